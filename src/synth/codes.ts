/** Code systems and the codes the generator writes (LOINC, SNOMED CT, ICD-10 as KCD-8 uses it, ATC, CVX, UCUM). */

export const SYSTEM = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  atc: 'http://www.whocc.no/atc',
  cvx: 'http://hl7.org/fhir/sid/cvx',
  ucum: 'http://unitsofmeasure.org',
  dbsnp: 'http://www.ncbi.nlm.nih.gov/projects/SNP',
  hgnc: 'http://www.genenames.org/geneId',
  obsCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  conditionCategory: 'http://terminology.hl7.org/CodeSystem/condition-category',
  clinicalStatus: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  verificationStatus: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  identifierType: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  orgType: 'http://terminology.hl7.org/CodeSystem/organization-type',
  loincAnswer: 'http://loinc.org',
  /** Synthetic identifier systems: an example domain, so nobody mistakes them for a real registry. */
  rrn: 'https://healthmesh.example/fhir/sid/kr-rrn',
  mrn: (region: string) => `https://healthmesh.example/fhir/sid/${region}-mrn`,
} as const;

export interface QuantityCode {
  readonly loinc: string;
  readonly display: string;
  readonly unit: string;
  readonly ucum: string;
  readonly category: 'vital-signs' | 'laboratory' | 'survey' | 'social-history' | 'activity' | 'exam';
}

/** Numeric observations by the `Measured` field they come from. */
export const QUANTITIES = {
  heightCm: { loinc: '8302-2', display: 'Body height', unit: 'cm', ucum: 'cm', category: 'vital-signs' },
  weightKg: { loinc: '29463-7', display: 'Body weight', unit: 'kg', ucum: 'kg', category: 'vital-signs' },
  bmi: {
    loinc: '39156-5',
    display: 'Body mass index (BMI) [Ratio]',
    unit: 'kg/m2',
    ucum: 'kg/m2',
    category: 'vital-signs',
  },
  fpg: {
    loinc: '1558-6',
    display: 'Fasting glucose [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
    ucum: 'mg/dL',
    category: 'laboratory',
  },
  hba1c: {
    loinc: '4548-4',
    display: 'Hemoglobin A1c/Hemoglobin.total in Blood',
    unit: '%',
    ucum: '%',
    category: 'laboratory',
  },
  tc: {
    loinc: '2093-3',
    display: 'Cholesterol [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
    ucum: 'mg/dL',
    category: 'laboratory',
  },
  hdl: {
    loinc: '2085-9',
    display: 'Cholesterol in HDL [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
    ucum: 'mg/dL',
    category: 'laboratory',
  },
  ldl: {
    loinc: '13457-7',
    display: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation',
    unit: 'mg/dL',
    ucum: 'mg/dL',
    category: 'laboratory',
  },
  tg: {
    loinc: '2571-8',
    display: 'Triglyceride [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
    ucum: 'mg/dL',
    category: 'laboratory',
  },
  creatinine: {
    loinc: '2160-0',
    display: 'Creatinine [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
    ucum: 'mg/dL',
    category: 'laboratory',
  },
  egfr: {
    loinc: '62238-1',
    display:
      'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)',
    unit: 'mL/min/{1.73_m2}',
    ucum: 'mL/min/{1.73_m2}',
    category: 'laboratory',
  },
  auditC: { loinc: '75626-2', display: 'Total score [AUDIT-C]', unit: '{score}', ucum: '{score}', category: 'survey' },
  activityDays: {
    loinc: '89574-8',
    display: 'Days per week of moderate to vigorous physical activity',
    unit: 'd/wk',
    ucum: 'd/wk',
    category: 'social-history',
  },
  phq9: {
    loinc: '44261-6',
    display: 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]',
    unit: '{score}',
    ucum: '{score}',
    category: 'survey',
  },
  mmse: {
    loinc: '72107-6',
    display: 'Mini-Mental State Examination [MMSE] total score',
    unit: '{score}',
    ucum: '{score}',
    category: 'survey',
  },
  fev1Fvc: { loinc: '19926-5', display: 'FEV1/FVC', unit: '%', ucum: '%', category: 'exam' },
  steps: {
    loinc: '41950-7',
    display: 'Number of steps in 24 hour Measured',
    unit: 'steps/day',
    ucum: '/d',
    category: 'activity',
  },
  sleepHours: { loinc: '93832-4', display: 'Sleep duration', unit: 'h', ucum: 'h', category: 'activity' },
  restingHr: { loinc: '40443-4', display: 'Heart rate --resting', unit: '/min', ucum: '/min', category: 'vital-signs' },
} as const satisfies Record<string, QuantityCode>;

export const BLOOD_PRESSURE = {
  panel: { loinc: '85354-9', display: 'Blood pressure panel with all children optional' },
  systolic: { loinc: '8480-6', display: 'Systolic blood pressure' },
  diastolic: { loinc: '8462-4', display: 'Diastolic blood pressure' },
} as const;

export const SMOKING = {
  loinc: '72166-2',
  display: 'Tobacco smoking status',
  never: { snomed: '266919005', display: 'Never smoked tobacco' },
  current: { snomed: '77176002', display: 'Smoker' },
  former: { snomed: '8517006', display: 'Ex-smoker' },
} as const;

export const FAMILY_HISTORY = { loinc: '10157-6', display: 'History of family member diseases Narrative' } as const;

export const GENOMICS = {
  variantAssessment: { loinc: '69548-6', display: 'Genetic variant assessment' },
  geneStudied: { loinc: '48018-6', display: 'Gene studied [ID]' },
  variantId: { loinc: '81255-2', display: 'dbSNP [ID]' },
  allelicState: { loinc: '53034-5', display: 'Allelic state' },
  present: { code: 'LA9633-4', display: 'Present' },
  absent: { code: 'LA9634-2', display: 'Absent' },
  heterozygous: { code: 'LA6706-1', display: 'Heterozygous' },
  homozygous: { code: 'LA6705-3', display: 'Homozygous' },
} as const;

export const ENCOUNTER_TYPE = {
  screening: { snomed: '185349003', display: 'Encounter for check up' },
  followup: { snomed: '390906007', display: 'Follow-up encounter' },
  problem: { snomed: '185345009', display: 'Encounter for symptom' },
  emergency: { snomed: '50849002', display: 'Emergency room admission' },
  inpatient: { snomed: '32485007', display: 'Hospital admission' },
} as const;

export const ILI = {
  snomed: '95891005',
  display: 'Influenza-like illness',
  icd10: 'J11.1',
  icd10Display: 'Influenza with other respiratory manifestations, virus not identified',
} as const;
export const INFLUENZA = {
  snomed: '6142004',
  display: 'Influenza',
  icd10: 'J10.1',
  icd10Display: 'Influenza with other respiratory manifestations, seasonal influenza virus identified',
} as const;
export const FLU_TEST = {
  loinc: '92142-9',
  display: 'Influenza virus A RNA [Presence] in Respiratory specimen by NAA with probe detection',
  detected: { snomed: '260373001', display: 'Detected' },
  notDetected: { snomed: '260415000', display: 'Not detected' },
} as const;
export const OSELTAMIVIR = { atc: 'J05AH02', display: 'oseltamivir' } as const;
export const FLU_VACCINE = { cvx: '150', display: 'Influenza, injectable, quadrivalent, preservative free' } as const;

/** Minor conditions of background outpatient visits. */
export const MINOR_CONDITIONS: readonly {
  icd10: string;
  icd10Display: string;
  snomed: string;
  snomedDisplay: string;
}[] = [
  {
    icd10: 'J06.9',
    icd10Display: 'Acute upper respiratory infection, unspecified',
    snomed: '54150009',
    snomedDisplay: 'Upper respiratory infection',
  },
  { icd10: 'M54.5', icd10Display: 'Low back pain', snomed: '279039007', snomedDisplay: 'Low back pain' },
  { icd10: 'K29.7', icd10Display: 'Gastritis, unspecified', snomed: '4556007', snomedDisplay: 'Gastritis' },
  {
    icd10: 'J20.9',
    icd10Display: 'Acute bronchitis, unspecified',
    snomed: '10509002',
    snomedDisplay: 'Acute bronchitis',
  },
  { icd10: 'L30.9', icd10Display: 'Dermatitis, unspecified', snomed: '182782007', snomedDisplay: 'Dermatitis' },
  { icd10: 'H10.9', icd10Display: 'Conjunctivitis, unspecified', snomed: '9826008', snomedDisplay: 'Conjunctivitis' },
  { icd10: 'S93.4', icd10Display: 'Sprain and strain of ankle', snomed: '44465007', snomedDisplay: 'Sprain of ankle' },
  {
    icd10: 'K52.9',
    icd10Display: 'Noninfective gastroenteritis and colitis, unspecified',
    snomed: '25374005',
    snomedDisplay: 'Gastroenteritis',
  },
];

/** The procedure done when each disease is diagnosed (by disease id), and at screening. */
export const PROCEDURES = {
  screening: { snomed: '399208008', display: 'Plain chest X-ray' },
  ihd: { snomed: '415070008', display: 'Percutaneous coronary intervention' },
  stroke: { snomed: '816077007', display: 'Magnetic resonance imaging of brain' },
  copd: { snomed: '127783003', display: 'Spirometry' },
  ckd: { snomed: '241390005', display: 'Ultrasonography of kidney' },
} as const;
