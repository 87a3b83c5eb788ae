/** The texts of federated fitting (Models page) and survival curves (cohorts), in English and Korean; spread into messages.ts. */
export const EN_ANALYSIS = {
  fedTrain: 'Fit across hubs',
  fedTrainHelp:
    "A logistic regression fitted across the chosen hubs inside an approved project: each hub checks the project at every round, computes its own rows for the project's purpose and sends only sums, through its release gate. The result is registered here.",
  fedSpec: 'Training spec (JSON)',
  fedHubs: 'Hubs',
  fedPurpose: 'Project (approved at every chosen hub)',
  fedStart: 'Start the fit',
  fedRunning: 'Fitting…',
  fedDone: 'Registered {id} version {version}: {rounds} rounds over {hubs}.',
  fedRecord:
    'Federated fit: hubs {hubs}, purpose {purpose}; counts released under threshold {threshold}, rounded to {rounding}',
  fedRound: 'Round',
  fedOperation: 'Operation',
  fedMs: 'ms',
  fedRows: 'rows',
  fedEvents: 'events',
  kmTitle: 'Time to an outcome (Kaplan–Meier)',
  kmOutcome: 'Outcome cohort (JSON definition)',
  kmRun: 'Draw the curve on this hub',
  kmYears: 'Years from index',
  kmAtRisk: 'At risk',
  kmLegend:
    'Solid: free of the outcome (Kaplan–Meier). Dashed: cumulative incidence (1 − KM, one event type). Released by the gate: numbers at risk rounded or suppressed (–), a value only where enough events lie since the last.',
};

export const KO_ANALYSIS: Record<keyof typeof EN_ANALYSIS, string> = {
  fedTrain: '허브 간 적합',
  fedTrainHelp:
    '승인된 프로젝트 안에서 선택한 허브들에 걸쳐 로지스틱 회귀를 적합합니다. 각 허브는 매 라운드마다 프로젝트를 확인하고, 프로젝트의 이용 목적으로 자신의 행을 계산하며, 반출 게이트를 거친 합계만 보냅니다. 결과는 이 허브에 등록됩니다.',
  fedSpec: '학습 명세 (JSON)',
  fedHubs: '허브',
  fedPurpose: '프로젝트 (선택한 모든 허브에서 승인됨)',
  fedStart: '적합 시작',
  fedRunning: '적합 중…',
  fedDone: '{id} 버전 {version} 등록: {hubs}에 걸쳐 {rounds}회.',
  fedRecord: '연합 적합: 허브 {hubs}, 목적 {purpose}; 기준 {threshold} 미만 억제, {rounding} 단위 반올림',
  fedRound: '회차',
  fedOperation: '연산',
  fedMs: '밀리초',
  fedRows: '행',
  fedEvents: '사건',
  kmTitle: '결과까지의 시간 (카플란-마이어)',
  kmOutcome: '결과 코호트 (JSON 정의)',
  kmRun: '이 허브에서 곡선 그리기',
  kmYears: '기준일로부터 연수',
  kmAtRisk: '위험 대상',
  kmLegend:
    '실선: 결과 없이 지낸 비율 (카플란-마이어). 점선: 누적 발생률 (1 − KM, 단일 사건). 반출 게이트를 거친 값: 위험 대상 수는 반올림 또는 억제(–), 직전 값 이후 사건이 충분할 때만 값 표시.',
};
