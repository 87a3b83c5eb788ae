/**
 * The genotype panel: common variants with published associations in East Asian genome-wide studies, and
 * approximate East Asian frequencies of the risk allele (gnomAD/1000 Genomes EAS, rounded). Per-allele log odds
 * ratios are rounded from the discovery papers; they only shape each disease's polygenic score, whose effect
 * on the hazard is set per standard deviation in `diseases.ts`.
 */
import type { DiseaseId } from './diseases.js';

export interface Variant {
  readonly rsid: string;
  readonly gene: string;
  /** HGNC id of the gene, for the `gene studied` component. */
  readonly hgnc: string;
  readonly riskAllele: string;
  readonly riskAlleleFrequency: number;
  readonly weights: Partial<Record<DiseaseId, number>>;
}

export const PANEL: readonly Variant[] = [
  {
    rsid: 'rs7756992',
    gene: 'CDKAL1',
    hgnc: 'HGNC:21050',
    riskAllele: 'G',
    riskAlleleFrequency: 0.48,
    weights: { t2d: 0.2 },
  },
  {
    rsid: 'rs2237892',
    gene: 'KCNQ1',
    hgnc: 'HGNC:6294',
    riskAllele: 'C',
    riskAlleleFrequency: 0.62,
    weights: { t2d: 0.25 },
  },
  {
    rsid: 'rs13266634',
    gene: 'SLC30A8',
    hgnc: 'HGNC:20303',
    riskAllele: 'C',
    riskAlleleFrequency: 0.55,
    weights: { t2d: 0.12 },
  },
  {
    rsid: 'rs10811661',
    gene: 'CDKN2B',
    hgnc: 'HGNC:1788',
    riskAllele: 'T',
    riskAlleleFrequency: 0.57,
    weights: { t2d: 0.15 },
  },
  {
    rsid: 'rs1333049',
    gene: 'CDKN2B-AS1',
    hgnc: 'HGNC:34341',
    riskAllele: 'C',
    riskAlleleFrequency: 0.5,
    weights: { ihd: 0.25, stroke: 0.08 },
  },
  {
    rsid: 'rs4977574',
    gene: 'CDKN2B-AS1',
    hgnc: 'HGNC:34341',
    riskAllele: 'G',
    riskAlleleFrequency: 0.55,
    weights: { ihd: 0.18 },
  },
  {
    rsid: 'rs1378942',
    gene: 'CSK',
    hgnc: 'HGNC:2444',
    riskAllele: 'C',
    riskAlleleFrequency: 0.3,
    weights: { htn: 0.1, stroke: 0.05 },
  },
  {
    rsid: 'rs2681472',
    gene: 'ATP2B1',
    hgnc: 'HGNC:814',
    riskAllele: 'A',
    riskAlleleFrequency: 0.6,
    weights: { htn: 0.12, stroke: 0.06 },
  },
  {
    rsid: 'rs11191548',
    gene: 'CYP17A1',
    hgnc: 'HGNC:2593',
    riskAllele: 'T',
    riskAlleleFrequency: 0.75,
    weights: { htn: 0.1 },
  },
  {
    rsid: 'rs429358',
    gene: 'APOE',
    hgnc: 'HGNC:613',
    riskAllele: 'C',
    riskAlleleFrequency: 0.09,
    weights: { dementia: 1.1, dyslipidaemia: 0.2, ihd: 0.1 },
  },
  {
    rsid: 'rs662799',
    gene: 'APOA5',
    hgnc: 'HGNC:17288',
    riskAllele: 'G',
    riskAlleleFrequency: 0.28,
    weights: { dyslipidaemia: 0.25 },
  },
  {
    rsid: 'rs12740374',
    gene: 'CELSR2',
    hgnc: 'HGNC:3231',
    riskAllele: 'G',
    riskAlleleFrequency: 0.9,
    weights: { dyslipidaemia: 0.12, ihd: 0.06 },
  },
  {
    rsid: 'rs3764261',
    gene: 'CETP',
    hgnc: 'HGNC:1869',
    riskAllele: 'C',
    riskAlleleFrequency: 0.83,
    weights: { dyslipidaemia: 0.1 },
  },
  {
    rsid: 'rs17319721',
    gene: 'SHROOM3',
    hgnc: 'HGNC:30422',
    riskAllele: 'A',
    riskAlleleFrequency: 0.4,
    weights: { ckd: 0.1 },
  },
  {
    rsid: 'rs12917707',
    gene: 'UMOD',
    hgnc: 'HGNC:12559',
    riskAllele: 'G',
    riskAlleleFrequency: 0.95,
    weights: { ckd: 0.12 },
  },
  {
    rsid: 'rs13118928',
    gene: 'HHIP',
    hgnc: 'HGNC:14866',
    riskAllele: 'A',
    riskAlleleFrequency: 0.55,
    weights: { copd: 0.1 },
  },
  {
    rsid: 'rs2869967',
    gene: 'FAM13A',
    hgnc: 'HGNC:19367',
    riskAllele: 'C',
    riskAlleleFrequency: 0.4,
    weights: { copd: 0.12 },
  },
  {
    rsid: 'rs1432639',
    gene: 'NEGR1',
    hgnc: 'HGNC:17302',
    riskAllele: 'A',
    riskAlleleFrequency: 0.6,
    weights: { depression: 0.04 },
  },
];
