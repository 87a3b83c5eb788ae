/**
 * The chronic diseases, their codes, treatments, target prevalences and hazard coefficients.
 *
 * Onset follows a proportional-hazards model per disease: h(a) = h0(a, sex) * exp(sum of beta_k * x_k(a)),
 * where x_k are a person's deviations from the age-sex mean of each risk factor (so h0 is the hazard of an
 * average person) and h0 is solved at start-up so that the cumulative incidence by age matches the target
 * prevalence curve (see `baseline-hazards.ts`). The hazard ratios are rounded from the sources named beside
 * them; the targets are approximate readings of published Korean figures (docs/synth.md lists both).
 */

export const DISEASE_IDS = [
  'htn',
  't2d',
  'dyslipidaemia',
  'ihd',
  'stroke',
  'ckd',
  'copd',
  'depression',
  'dementia',
] as const;
export type DiseaseId = (typeof DISEASE_IDS)[number];

/** Risk-factor terms of the linear predictor (see `risk-factors.ts` for how each is computed). */
export const FACTORS = [
  'sbp10', // systolic BP minus the age-sex mean, per 10 mmHg
  'fpg10', // fasting glucose minus mean, per 10 mg/dL
  'bmi', // BMI minus mean, per kg/m2
  'tc10', // total cholesterol minus mean, per 10 mg/dL
  'ldl39', // LDL cholesterol minus mean, per 38.7 mg/dL (1 mmol/L)
  'hdl10', // HDL cholesterol minus mean, per 10 mg/dL
  'egfrLow10', // mean minus eGFR, per 10 mL/min/1.73m2 (lower kidney function raises risk)
  'smokingCurrent',
  'smokingFormer',
  'heavyAlcohol', // AUDIT-C >= 8 (men) or >= 6 (women)
  'activityDays', // days a week of moderate-to-vigorous activity, minus 3
  'familyHistory', // a parent or sibling with the disease
  'prs', // the disease's polygenic score from the panel, in standard deviations
  'depressionTrait', // an unmeasured vulnerability (N(0,1)); PHQ-9 scores reflect it
] as const;
export type FactorId = (typeof FACTORS)[number];

export interface DiagnosisCode {
  readonly icd10: string;
  readonly icd10Display: string;
  readonly snomed: string;
  readonly snomedDisplay: string;
  readonly weight: number;
}

export interface Medication {
  readonly atc: string;
  readonly display: string;
}

export interface Disease {
  readonly id: DiseaseId;
  readonly name: string;
  /** No onset before this age. */
  readonly minAge: number;
  readonly codes: readonly DiagnosisCode[];
  /** Target prevalence (%) at ages 25, 35, ..., 85: non-decreasing, since the model knows no cure. */
  readonly target: { readonly male: readonly number[]; readonly female: readonly number[] };
  readonly targetSource: string;
  /** Hazard ratios per unit of each factor; the model uses their logarithms. */
  readonly hazardRatios: Partial<Record<FactorId, number>>;
  readonly hazardSource: string;
  readonly medications: readonly Medication[];
  /** Presents as an emergency and an admission rather than at a clinic. */
  readonly acute: boolean;
  /** Share of people with a parent or sibling affected. */
  readonly familyHistoryShare: number;
}

export const TARGET_AGES = [25, 35, 45, 55, 65, 75, 85] as const;

export const DISEASES: readonly Disease[] = [
  {
    id: 'htn',
    name: 'Hypertension',
    minAge: 20,
    codes: [
      {
        icd10: 'I10',
        icd10Display: 'Essential (primary) hypertension',
        snomed: '59621000',
        snomedDisplay: 'Essential hypertension',
        weight: 1,
      },
    ],
    target: { male: [4, 12, 26, 40, 52, 63, 68], female: [1, 3, 10, 26, 45, 64, 73] },
    targetSource: 'KNHANES 2019-2021 (KDCA, Korea Health Statistics), SBP>=140 or DBP>=90 or treated, by age and sex',
    hazardRatios: { sbp10: 2.5, bmi: 1.05, heavyAlcohol: 1.3, familyHistory: 1.5, prs: 1.25, activityDays: 0.97 },
    hazardSource:
      'Framingham hypertension risk score terms (Parikh et al., Ann Intern Med 2008); alcohol: Roerecke et al. 2017',
    medications: [
      { atc: 'C09CA01', display: 'losartan' },
      { atc: 'C08CA01', display: 'amlodipine' },
      { atc: 'C09CA07', display: 'telmisartan' },
    ],
    acute: false,
    familyHistoryShare: 0.3,
  },
  {
    id: 't2d',
    name: 'Type 2 diabetes',
    minAge: 20,
    codes: [
      {
        icd10: 'E11.9',
        icd10Display: 'Type 2 diabetes mellitus without complications',
        snomed: '44054006',
        snomedDisplay: 'Diabetes mellitus type 2',
        weight: 1,
      },
    ],
    target: { male: [1, 3.5, 10, 19, 28, 30, 30], female: [0.5, 2, 5, 11, 20, 28, 30] },
    targetSource: 'KNHANES 2019-2021 (KDCA); Diabetes Fact Sheet in Korea 2022 (Korean Diabetes Association)',
    hazardRatios: { fpg10: 2.2, bmi: 1.07, familyHistory: 1.8, prs: 1.4, smokingCurrent: 1.3, activityDays: 0.95 },
    hazardSource:
      'Framingham Offspring diabetes score (Wilson et al., Arch Intern Med 2007); smoking: Willi et al., JAMA 2007',
    medications: [
      { atc: 'A10BA02', display: 'metformin' },
      { atc: 'A10BH01', display: 'sitagliptin' },
      { atc: 'A10BK01', display: 'dapagliflozin' },
    ],
    acute: false,
    familyHistoryShare: 0.2,
  },
  {
    id: 'dyslipidaemia',
    name: 'Dyslipidaemia',
    minAge: 20,
    codes: [
      {
        icd10: 'E78.5',
        icd10Display: 'Hyperlipidaemia, unspecified',
        snomed: '370992007',
        snomedDisplay: 'Dyslipidemia',
        weight: 1,
      },
    ],
    target: { male: [5, 12, 19, 22, 24, 24, 24], female: [3, 5, 10, 27, 40, 44, 44] },
    targetSource: 'KNHANES 2019-2021 hypercholesterolaemia (TC>=240 mg/dL or treated); held flat after its peak',
    hazardRatios: { tc10: 1.6, bmi: 1.03, familyHistory: 1.4, prs: 1.3 },
    hazardSource: 'tracking of total cholesterol (KNHANES); familial aggregation: Pérez de Isla 2016',
    medications: [
      { atc: 'C10AA05', display: 'atorvastatin' },
      { atc: 'C10AA07', display: 'rosuvastatin' },
    ],
    acute: false,
    familyHistoryShare: 0.15,
  },
  {
    id: 'ihd',
    name: 'Ischaemic heart disease',
    minAge: 30,
    codes: [
      {
        icd10: 'I21.9',
        icd10Display: 'Acute myocardial infarction, unspecified',
        snomed: '22298006',
        snomedDisplay: 'Myocardial infarction',
        weight: 0.4,
      },
      {
        icd10: 'I20.9',
        icd10Display: 'Angina pectoris, unspecified',
        snomed: '194828000',
        snomedDisplay: 'Angina',
        weight: 0.6,
      },
    ],
    target: { male: [0, 0.2, 1, 3, 6.5, 10, 12], female: [0, 0.1, 0.4, 1.2, 3.5, 7, 9] },
    targetSource:
      'Korea Heart Disease Fact Sheet 2020 (Korean Society of Cardiology); KNHANES physician-diagnosed angina/MI',
    hazardRatios: {
      sbp10: 1.25,
      ldl39: 1.5,
      hdl10: 0.8,
      fpg10: 1.15,
      smokingCurrent: 2.0,
      smokingFormer: 1.3,
      prs: 1.5,
      familyHistory: 1.5,
      activityDays: 0.95,
    },
    hazardSource:
      'Korean Heart Study (Jee et al., Heart 2014); PSC Lancet 2002; CAD polygenic score: Khera et al., Nat Genet 2018',
    medications: [
      { atc: 'B01AC06', display: 'acetylsalicylic acid' },
      { atc: 'B01AC04', display: 'clopidogrel' },
      { atc: 'C10AA07', display: 'rosuvastatin' },
    ],
    acute: true,
    familyHistoryShare: 0.1,
  },
  {
    id: 'stroke',
    name: 'Stroke',
    minAge: 30,
    codes: [
      {
        icd10: 'I63.9',
        icd10Display: 'Cerebral infarction, unspecified',
        snomed: '432504007',
        snomedDisplay: 'Cerebral infarction',
        weight: 0.8,
      },
      {
        icd10: 'I61.9',
        icd10Display: 'Intracerebral haemorrhage, unspecified',
        snomed: '274100004',
        snomedDisplay: 'Cerebral hemorrhage',
        weight: 0.2,
      },
    ],
    target: { male: [0, 0.2, 0.8, 2, 4.5, 8, 10], female: [0, 0.1, 0.5, 1.2, 3, 6, 8] },
    targetSource: 'Stroke Statistics in Korea 2018 (Korean Stroke Society); KNHANES physician-diagnosed stroke',
    hazardRatios: {
      sbp10: 1.5,
      fpg10: 1.12,
      smokingCurrent: 1.7,
      smokingFormer: 1.2,
      heavyAlcohol: 1.4,
      prs: 1.2,
      familyHistory: 1.3,
    },
    hazardSource:
      'Asia Pacific Cohort Studies Collaboration (J Hypertens 2003); Korean Cancer Prevention Study (Jee et al.)',
    medications: [
      { atc: 'B01AC04', display: 'clopidogrel' },
      { atc: 'B01AC06', display: 'acetylsalicylic acid' },
    ],
    acute: true,
    familyHistoryShare: 0.12,
  },
  {
    id: 'ckd',
    name: 'Chronic kidney disease',
    minAge: 20,
    codes: [
      {
        icd10: 'N18.3',
        icd10Display: 'Chronic kidney disease, stage 3',
        snomed: '433144002',
        snomedDisplay: 'Chronic kidney disease stage 3',
        weight: 1,
      },
    ],
    target: { male: [0.5, 1.5, 3, 5, 10, 22, 35], female: [0.5, 1.5, 3, 5, 10, 22, 35] },
    targetSource: 'KNHANES CKD prevalence (eGFR<60 or albuminuria; Park et al., Kidney Res Clin Pract 2020)',
    hazardRatios: { egfrLow10: 2.2, sbp10: 1.2, fpg10: 1.25, bmi: 1.03, familyHistory: 1.5, prs: 1.15 },
    hazardSource: 'CKD Prognosis Consortium (Nelson et al., JAMA 2019)',
    medications: [{ atc: 'C09CA01', display: 'losartan' }],
    acute: false,
    familyHistoryShare: 0.05,
  },
  {
    id: 'copd',
    name: 'Chronic obstructive pulmonary disease',
    minAge: 40,
    codes: [
      {
        icd10: 'J44.9',
        icd10Display: 'Chronic obstructive pulmonary disease, unspecified',
        snomed: '13645005',
        snomedDisplay: 'Chronic obstructive lung disease',
        weight: 1,
      },
    ],
    target: { male: [0, 0, 3, 10, 25, 40, 45], female: [0, 0, 1.5, 4, 8, 15, 18] },
    targetSource: 'KNHANES 2015-2017 spirometry (FEV1/FVC<0.7, ages 40+; Hwang et al., Tuberc Respir Dis 2019)',
    hazardRatios: { smokingCurrent: 4.0, smokingFormer: 2.2, prs: 1.2, familyHistory: 1.3, bmi: 0.97 },
    hazardSource: 'Copenhagen City Heart Study (Løkke et al., Thorax 2006)',
    medications: [
      { atc: 'R03BB04', display: 'tiotropium bromide' },
      { atc: 'R03AK06', display: 'salmeterol and fluticasone' },
    ],
    acute: false,
    familyHistoryShare: 0.05,
  },
  {
    id: 'depression',
    name: 'Depression',
    minAge: 15,
    codes: [
      {
        icd10: 'F32.9',
        icd10Display: 'Depressive episode, unspecified',
        snomed: '35489007',
        snomedDisplay: 'Depressive disorder',
        weight: 1,
      },
    ],
    target: { male: [2, 3, 3.5, 4, 4.5, 5, 6], female: [4, 6, 7, 8.5, 10, 11, 12] },
    targetSource: 'National Mental Health Survey of Korea 2021 (lifetime major depressive disorder 7.7%)',
    hazardRatios: { depressionTrait: 1.9, activityDays: 0.92, heavyAlcohol: 1.5, familyHistory: 1.6, prs: 1.15 },
    hazardSource:
      'physical activity: Schuch et al., Am J Psychiatry 2018; family history: Sullivan et al., Am J Psychiatry 2000',
    medications: [
      { atc: 'N06AB10', display: 'escitalopram' },
      { atc: 'N06AB06', display: 'sertraline' },
    ],
    acute: false,
    familyHistoryShare: 0.1,
  },
  {
    id: 'dementia',
    name: 'Dementia',
    minAge: 55,
    codes: [
      {
        icd10: 'G30.9',
        icd10Display: "Alzheimer's disease, unspecified",
        snomed: '26929004',
        snomedDisplay: "Alzheimer's disease",
        weight: 0.7,
      },
      {
        icd10: 'F01.9',
        icd10Display: 'Vascular dementia, unspecified',
        snomed: '429998004',
        snomedDisplay: 'Vascular dementia',
        weight: 0.3,
      },
    ],
    target: { male: [0, 0, 0, 0.2, 1.5, 8, 25], female: [0, 0, 0, 0.2, 2.5, 11, 33] },
    targetSource: 'Korean Dementia Observatory 2022 (National Institute of Dementia): 10.4% of people aged 65+',
    hazardRatios: {
      prs: 1.5,
      sbp10: 1.1,
      fpg10: 1.1,
      activityDays: 0.95,
      smokingCurrent: 1.3,
      familyHistory: 1.4,
      depressionTrait: 1.15,
    },
    hazardSource: 'APOE: Farrer et al., JAMA 1997; modifiable factors: Livingston et al., Lancet Commission 2020',
    medications: [
      { atc: 'N06DA02', display: 'donepezil' },
      { atc: 'N06DX01', display: 'memantine' },
    ],
    acute: false,
    familyHistoryShare: 0.12,
  },
];

/** Log hazard ratios as a dense disease x factor matrix, for the hot loops. */
export const LOG_HR: Float64Array = (() => {
  const m = new Float64Array(DISEASES.length * FACTORS.length);
  DISEASES.forEach((d, i) => {
    FACTORS.forEach((f, k) => {
      const hr = d.hazardRatios[f];
      if (hr !== undefined) m[i * FACTORS.length + k] = Math.log(hr);
    });
  });
  return m;
})();

export function diseaseIndex(id: DiseaseId): number {
  return DISEASE_IDS.indexOf(id);
}
