/**
 * A citizen's risks from the hub's own trained models (the model registry: logistic, boosted trees, Cox), computed
 * from their records as of today, each with the factors that raise and lower it and what reaching a care-plan
 * target would change. Numbers that stand on other people (the risk, the training means, the coefficients) pass
 * the release gate as they would for any role without row-level rights: a citizen may read only their own rows.
 */
import type { HubServices } from '../context/index.js';
import { isHealthmeshError } from '../core/index.js';
import type { FeatureDefinition, FeatureMatrix, FlattenedRecords, RegisteredModel } from '../models/index.js';
import {
  applyFeaturePlan,
  buildHubFeatures,
  cardFitSupport,
  featureMatrix,
  hubModelRegistry,
  predictRisk,
  releaseModelCard,
} from '../models/index.js';
import type { CarePlan, TargetId } from './care-plan.js';

type Hub = Parameters<typeof buildHubFeatures>[0] & Pick<HubServices, 'db' | 'clock' | 'gate'>;

/** Korean first, then English. */
export interface Words {
  ko: string;
  en: string;
}

/** One feature's part in the risk, against the training population's (released) mean. */
export interface TrainedRiskFactor {
  feature: string;
  label: Words;
  value: number;
  typical: number;
  /**
   * Logistic: coefficient × (value − mean) in log-odds; Cox: the same in log hazard; boosted trees: the risk now
   * minus the risk with this feature at the mean. > 0 raises the risk, < 0 lowers it.
   */
  effect: number;
  scale: 'log-odds' | 'log-hazard' | 'risk';
  say: Words;
}

/** The risk recomputed with one modifiable value at the care plan's target. */
export interface TrainedRiskChange {
  feature: string;
  target: TargetId;
  from: number;
  to: number;
  risk: number;
  say: Words;
}

/** A citizen's risk from one of the hub's trained models, or why it cannot be shown. */
export interface MyTrainedRisk {
  model: string;
  version: number;
  kind: RegisteredModel['kind'];
  title: string;
  outcome: string;
  horizon: string | null;
  risk: number | null;
  /** Why no risk is shown; never a number made up in its place. */
  notAvailable?: Words;
  /** Largest effect first. */
  factors: TrainedRiskFactor[];
  changes: TrainedRiskChange[];
}

const LOINC = 'http://loinc.org';
/** The care plan's targets by the LOINC codes of what they measure (care-plan.ts), and the side that meets each. */
const TARGET_CODES: { id: TargetId; codes: string[]; label: Words }[] = [
  { id: 'blood-pressure', codes: ['8480-6'], label: { ko: '수축기 혈압', en: 'Systolic blood pressure' } },
  { id: 'hba1c', codes: ['4548-4'], label: { ko: '당화혈색소', en: 'HbA1c' } },
  { id: 'ldl', codes: ['13457-7', '18262-6', '2089-1'], label: { ko: 'LDL 콜레스테롤', en: 'LDL cholesterol' } },
  { id: 'bmi', codes: ['39156-5'], label: { ko: '체질량지수(BMI)', en: 'Body mass index' } },
  { id: 'steps', codes: ['41950-7', '55423-8'], label: { ko: '하루 걸음 수', en: 'Daily steps' } },
];

const fmt = (v: number) => String(Math.round(v * 10) / 10);
const pct = (p: number) => `${Math.round(p * 1000) / 10}%`;

function targetOf(m: RegisteredModel, f: FeatureDefinition) {
  if (!('conceptSet' in f) || f.kind === 'count') return undefined;
  const concepts = m.plan?.spec.conceptSets[f.conceptSet]?.concepts ?? [];
  return TARGET_CODES.find((t) => concepts.some((c) => c.system === LOINC && t.codes.includes(c.code)));
}

function labelOf(m: RegisteredModel, f: FeatureDefinition | undefined, column: string): Words {
  if (f?.kind === 'age') return { ko: '나이', en: 'Age' };
  if (f?.kind === 'sex') return f.value === 'male' ? { ko: '남성', en: 'Male sex' } : { ko: '여성', en: 'Female sex' };
  const t = f && targetOf(m, f);
  if (t !== undefined) return t.label;
  const text = f?.description ?? column;
  return { ko: text, en: text };
}

function factorWords(label: Words, value: number, typical: number, effect: number): Words {
  const higher = value > typical;
  const raises = effect > 0;
  return {
    ko: `${label.ko} ${fmt(value)}: 학습 인구 평균 ${fmt(typical)}보다 ${higher ? '높아' : '낮아'} 위험을 ${raises ? '높입니다' : '낮춥니다'}`,
    en: `${label.en} ${fmt(value)}, ${higher ? 'above' : 'below'} the training average ${fmt(typical)}: ${raises ? 'raises' : 'lowers'} the risk`,
  };
}

const unavailable = (m: RegisteredModel, why: Words): MyTrainedRisk => ({
  ...header(m),
  risk: null,
  notAvailable: why,
  factors: [],
  changes: [],
});

const notInPopulation = (m: RegisteredModel) =>
  unavailable(m, {
    ko: '오늘 기준으로 이 모델의 대상이 아닙니다 (나이, 또는 이미 기록된 결과 질환)',
    en: "not in this model's population today (age, or the outcome already on the record)",
  });

function header(m: RegisteredModel) {
  return {
    model: m.id,
    version: m.version,
    kind: m.kind,
    title: m.card.title,
    outcome: m.card.cohort.outcome,
    horizon: m.card.cohort.horizon ?? null,
  };
}

/**
 * The citizen's risk from the latest version in service of every model in the hub's registry (the version `POST
 * /models/{id}/predict` serves; a model with none is left out), from their own records today. A model is scored only when every one of its
 * features is recorded for the person: a value the model would fill with a training mean is a guess, so such a
 * model, one trained from a flat table (its features are not computed from records), one whose population the
 * person is not in, and one whose training data the release gate does not let a prediction leave are listed as not
 * available, with why. `plan` is the citizen's care plan: a modifiable feature outside its target is set to the
 * target and the risk recomputed. `records` are the citizen's FHIR resources held at peers, read for this answer:
 * the features are computed from them with this hub's rows (`FeatureScope.records`), and kept nowhere.
 */
export async function myModelRisks(
  hub: Hub,
  patientKeys: readonly string[],
  plan: CarePlan,
  records?: FlattenedRecords,
): Promise<MyTrainedRisk[]> {
  if (patientKeys.length === 0) return [];
  const registry = await hubModelRegistry(hub);
  const today = hub.clock.now().toISOString().slice(0, 10);
  const out: MyTrainedRisk[] = [];
  for (const listed of await registry.list()) {
    // Only models in service: a withdrawn or recalled version is not shown to citizens, nor an older one in its place
    // unless that one serves.
    let m: RegisteredModel;
    try {
      m = await registry.serving(listed.id);
    } catch (e) {
      if (isHealthmeshError(e) && (e.code === 'MODEL_NOT_SERVING' || e.code === 'MODEL_RECALLED')) continue;
      throw e;
    }
    out.push(await scoreOne(hub, m, patientKeys, today, plan, records));
  }
  return out;
}

async function scoreOne(
  hub: Hub,
  m: RegisteredModel,
  patientKeys: readonly string[],
  today: string,
  carePlan: CarePlan,
  records: FlattenedRecords | undefined,
): Promise<MyTrainedRisk> {
  const plan = m.plan;
  if (plan === undefined) {
    return unavailable(m, {
      ko: '표 파일로 학습한 모델이라 건강 기록으로 값을 계산할 수 없습니다',
      en: 'trained from a table: its features are not computed from health records',
    });
  }
  if (!('indexDate' in plan.spec.population)) {
    // Scoring at a date drops a cohort population's criteria (hub-features.ts), and running the cohort over the
    // hub for one reader is too dear: whether the person belongs to it is not known, so no number is shown.
    return unavailable(m, {
      ko: '대상 집단이 코호트 정의로 정해진 모델이라 한 사람에 대해 확인할 수 없습니다',
      en: 'its population is a cohort definition, which is not checked for one person',
    });
  }
  let rows: Awaited<ReturnType<typeof buildHubFeatures>>;
  try {
    rows = await buildHubFeatures(hub, plan.spec, {
      patients: patientKeys,
      indexDate: today,
      purpose: 'treatment',
      ...(records !== undefined && { records }),
    });
  } catch (e) {
    // Not scored: no row for the person today (the outcome already on the record, or no record at all).
    if (isHealthmeshError(e) && (e.code === 'MODEL_EMPTY_DATA' || e.code === 'MODEL_PATIENT_NOT_FOUND')) {
      return notInPopulation(m);
    }
    if (isHealthmeshError(e) && e.code === 'CONSENT_REFUSED') {
      return unavailable(m, {
        ko: '진료 목적의 이용을 거부하셔서 계산하지 않습니다',
        en: 'not computed: your consent refuses use of your records for care',
      });
    }
    throw e;
  }
  const width = rows.matrix.names.length;
  const rowAt = (i: number) => Array.from(rows.matrix.values.subarray(i * width, (i + 1) * width));
  // Records linked from several sources here are several rows (one per patient key; records at peers are read
  // into each): the first with every feature recorded is scored; values are not pooled across this hub's sources.
  const candidates = Array.from({ length: rows.matrix.rows }, (_, i) => rowAt(i));
  const at = Math.max(
    0,
    candidates.findIndex((r) => r.every((v) => !Number.isNaN(v))),
  );
  const raw = candidates[at]!;
  // Scoring given patients drops the population's age limits (hub-features.ts): the model's population is the
  // spec's, so a person outside its ages gets no number from it. Age in whole years, as the population counts it.
  const ages = 'indexDate' in plan.spec.population ? plan.spec.population.age : undefined;
  const age = Math.floor(rows.age[at]!);
  if (
    ages !== undefined &&
    ((ages.min !== undefined && age < ages.min) || (ages.max !== undefined && age > ages.max))
  ) {
    return notInPopulation(m);
  }
  const missing = rows.matrix.names.filter((_, j) => Number.isNaN(raw[j]!));
  if (missing.length > 0) {
    const names = missing.map((n) =>
      labelOf(
        m,
        plan.spec.features.find((f) => f.name === n),
        n,
      ),
    );
    return unavailable(m, {
      ko: `기록에 이 값이 없어 계산하지 않습니다: ${names.map((w) => w.ko).join(', ')}`,
      en: `not computed: your record has no ${names.map((w) => w.en).join(', ')}`,
    });
  }
  const support = cardFitSupport(m.card.trainingData);
  const score = (values: number[][]): number[] => {
    const input = applyFeaturePlan(plan, featureMatrix(rows.matrix.names, Float64Array.from(values.flat())));
    return Array.from(predictRisk(m.model, input as FeatureMatrix), (p) => hub.gate.prediction(p, support).value);
  };
  let risk: number;
  try {
    risk = score([raw])[0]!;
  } catch (e) {
    if (isHealthmeshError(e) && e.code === 'DISCLOSURE_REFUSED') {
      return unavailable(m, {
        ko: '학습한 인원이 적어 이 모델의 결과를 보여드릴 수 없습니다',
        en: 'trained on too few people for its output to be shown outside the hub',
      });
    }
    throw e;
  }
  const released = releaseModelCard(m.card, hub.gate).value;
  const mean = new Map(released.trainingData.features.map((f) => [f.name, f.mean]));
  const specFeature = (n: string) => plan.spec.features.find((f) => f.name === n);
  const factors: TrainedRiskFactor[] = [];
  if (m.model.kind === 'logistic' || m.model.kind === 'cox') {
    const fit = released.fit;
    const coefficients = fit !== undefined && !('withheld' in fit) ? fit.coefficients : [];
    const scale = m.model.kind === 'logistic' ? 'log-odds' : 'log-hazard';
    rows.matrix.names.forEach((n, j) => {
      const beta = coefficients.find((c) => c.term === n)?.estimate;
      const typical = mean.get(n);
      if (beta === undefined || typical === null || typical === undefined) return;
      const value = raw[j]!;
      const effect = beta * (value - typical);
      if (effect === 0) return;
      const label = labelOf(m, specFeature(n), n);
      factors.push({
        feature: n,
        label,
        value,
        typical,
        effect,
        scale,
        say: factorWords(label, value, typical, effect),
      });
    });
  } else {
    const varied = rows.matrix.names
      .map((n, j) => ({ n, j, typical: mean.get(n) }))
      .filter((v): v is { n: string; j: number; typical: number } => typeof v.typical === 'number');
    const risks = score(varied.map(({ j, typical }) => raw.map((x, k) => (k === j ? typical : x))));
    varied.forEach(({ n, j, typical }, k) => {
      const effect = risk - risks[k]!;
      if (effect === 0) return;
      const label = labelOf(m, specFeature(n), n);
      const value = raw[j]!;
      factors.push({
        feature: n,
        label,
        value,
        typical,
        effect,
        scale: 'risk',
        say: factorWords(label, value, typical, effect),
      });
    });
  }
  factors.sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
  const changes: TrainedRiskChange[] = [];
  rows.matrix.names.forEach((n, j) => {
    const f = specFeature(n);
    const t = f && targetOf(m, f);
    const goal = t && carePlan.targets.find((p) => p.id === t.id)?.target;
    if (t === undefined || goal === undefined) return;
    const from = raw[j]!;
    const to =
      goal.max !== undefined && from > goal.max
        ? goal.max
        : goal.min !== undefined && from < goal.min
          ? goal.min
          : undefined;
    if (to === undefined) return;
    const at = score([raw.map((x, k) => (k === j ? to : x))])[0]!;
    changes.push({
      feature: n,
      target: t.id,
      from,
      to,
      risk: at,
      say: {
        ko: `${t.label.ko} 목표 ${fmt(to)}에 도달하면 위험: ${pct(risk)} → ${pct(at)}`,
        en: `${to < from ? 'Lowering' : 'Raising'} ${t.label.en.toLowerCase()} to the target ${fmt(to)} changes the risk from ${pct(risk)} to ${pct(at)}`,
      },
    });
  });
  return { ...header(m), risk, factors, changes };
}
