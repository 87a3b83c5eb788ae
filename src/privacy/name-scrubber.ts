/**
 * Recognises names of people in free text by their context, without knowing who the people are: Korean names
 * (a common surname and one or two given syllables) next to an honorific or a role word, Latin-script names after
 * a title or a role word, and romanised Korean names (`Kim Min-su`). Recall comes first: a word that only looks
 * like a name in a name's context is masked too. Measured on `test/fixtures/names/notes.txt`
 * (`test/name-corpus.test.ts`).
 */
export const NAME_MASK = '[NAME]';

/** A recognised name: `text.slice(start, end)`. */
export interface NameSpan {
  start: number;
  end: number;
}

/** Two-syllable surnames first, so `남궁민수` is 남궁 + 민수 rather than 남 + 궁민. */
const SURNAMES_2 = ['제갈', '남궁', '독고', '황보', '선우', '사공', '서문', '동방'];
const SURNAMES_1 = [
  ...'김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동',
];
const SURNAME = `(?:${SURNAMES_2.join('|')}|[${SURNAMES_1.join('')}])`;
const SURNAME_SET = new Set([...SURNAMES_2, ...SURNAMES_1]);

/**
 * Syllables of Korean given names (broad: names of the last eighty years, native Korean names included). A
 * candidate's given part must be made of these: it keeps `고혈압 환자`, `위암`, `연락처` from being names.
 */
const GIVEN_SYLLABLES = new Set([
  ...'가각간갑강개건걸검겸경계고곤골공관광교구국군권규균근금기길김나난남낭내녀년노녹늘다단달담대덕도돈동두둘득들라란람랑래량려련렬령례로록론뢰료룡루류륜률륭름리린림마만말맑망매맹면명모목몽무묵문물미민밀바박반발방배백범법벽변별병보복본봄봉부분불비빈빛사산삼상새샘생서석선설섬섭성세소손솔솜송수숙순술숭슬습승시식신실심아악안알애앵야양어언엄업여역연열염엽영예오옥온올완왕외요용우욱운울웅원월위유육윤율융은을음응의이익인일임입자작잔잠장재쟁저적전절점정제조종좌주죽준중즙증지직진질집찬찰참창채책처천철첨청체초촌총최추축춘출충취치칠침탁탄태택통퇴파판팔패평포표푸풍필하학한할함항해햇행향허헌혁현협형혜호홍화확환활황회효후훈휘휴흔흠흥희히힘',
]);

/**
 * Words that are not names although they start with a surname and are made of name syllables; matched against
 * the candidate (surname + given) exactly.
 */
const KO_STOP = new Set(
  `이상 정상 신장 박동 김치 조영 조영제 고령 노인 성인 남자 여자 남성 여성 소아 신생 신규 전신 전체 전원 전화 전달 전과 전반 전후
  정보 정도 정맥 정신 정규 정기 정확 정리 이송 이전 이후 이동 이식 이명 이미 이유 이해 이번 이외 이내 이하 이용 이완 이름
  안정 안내 안전 안과 안면 안구 유지 유무 유방 유아 유사 유도 유발 유형 양측 양호 양상 양성 양수 양쪽 인지 인후 인공 인정
  임상 임신 임의 장기 장애 장염 장관 장시간 위염 위장 위치 위해 위험 강도 강직 강화 공복 공급 공유 공동 문제 문진 문의 명확
  변비 변화 변경 복통 복부 부종 부위 부작 부분 부족 부재 사용 사망 사항 사전 설명 설사 성별 성장 손상 손목 송부 신체 신경 신속
  심장 심전 심한 심해 심화 심부 연락 연령 연속 연장 연하 예정 예방 예약 오심 오전 오후 오른 용량 원인 원내 원외 원활 육안
  은행 제거 제공 제한 조절 조기 조직 조치 조금 조사 지속 지시 지난 지연 지원 지도 지표 진단 진료 진통 진행 진정 진찰 진술
  채혈 추가 추적 추후 탁월 태아 편도 표준 표시 하지 하루 하복 하부 함께 허리 현재 현상 호흡 호전 호소 홍반 황달 화상 구토
  구강 기능 기존 기침 기록 기간 기관 기타 기준 도움 도착 도중 소변 소견 소실 소아과 반복 반응 방문 방사 방법 경과 경구
  경증 경우 경미 상태 선생 석회 어제 어지 여러 여부 염증 왕진 주사 주의 주치 주기 주간 주요 주말 차이 차례 천천 최근 최대
  최소 최초 한쪽 한번 한달 한국 감기 감염 감소 동의 동반 동일 동안 모두 모든 목표 목적 나이 나중 남은 마취 마비 만성 명령
  국소 금식 금연 금주 길이 민감 우측 우울 우선 엄마 고모 고열 고용 고지 고정 구역 도시 방향 배뇨 배변 백신 봉합 사유 손녀
  손자 여동 예후 왕복 피부 피로 형제 두통 두부 감각 부모 부친 모친 형님 남편 동생 김밥 우유 금일 익일 명일 전일 신부전 심부전
  인계 동행 동석 제외 양이 양은 양의 양과 군이 군은 군의 원장 과장 부장 여사 사위 이모 고모 조카 성명 성함 지인 이웃 부인 주임`
    .split(/\s+/)
    .filter((w) => w.length > 0),
);

/** Endings after a stop word's two syllables (`설명함`, `전화로`): then the whole run is a word, not a name. */
const KO_ENDINGS = new Set([...'이가은는을를의에로과와도만함됨중후시및하한할했해되된될며고서요음임적']);

/** Honorifics and roles that follow a name (`김민수님`, `박 교수`, `이영희 보호자`). */
const KO_AFTER = [
  '님',
  '씨',
  '환자',
  '보호자',
  '선생',
  '교수',
  '원장',
  '간호사',
  '수간호사',
  '과장',
  '부장',
  '실장',
  '팀장',
  '주임',
  '전공의',
  '레지던트',
  '인턴',
  '약사',
  '의사',
  '치료사',
  '요양보호사',
  '사회복지사',
  '어르신',
  '할머니',
  '할아버지',
  '여사',
  '아버님',
  '어머님',
  '학생',
  '님께',
  // `최하준 아버지`: the father of someone named
  '아버지',
  '어머니',
  '아들',
  '딸',
  '남편',
  '아내',
  '배우자',
];
/** Titles that may follow a bare surname (`김 간호사`, `박씨`). */
const KO_SURNAME_ONLY_AFTER = new Set([
  '씨',
  '선생',
  '교수',
  '원장',
  '간호사',
  '수간호사',
  '과장',
  '부장',
  '실장',
  '팀장',
  '주임',
  '전공의',
  '약사',
  '여사',
  '할머니',
  '할아버지',
]);
/** `김민지 양`, `이민호 군`: only as a word of their own, since 군 and 양 end many words (대조군, 양측). */
const KO_AFTER_SHORT = '(?:군|양)(?:[^가-힣]|[이은의과와도을를에]|$)';
const KO_AFTER_PAREN = '(?:\\((?:남|여|[MFmf]\\b|만?\\s?\\d|\\d)|,\\s?(?:만\\s?)?\\d{1,3}\\s?세)';
const KO_KIN = '보호자|딸|아들|어머니|아버지|남편|아내|배우자|담당의|주치의|손녀|손자|며느리|사위';
const KO_FOLLOWED = new RegExp(
  `(?<![가-힣])(${SURNAME})([가-힣]{0,2})(?=\\s?(?:${KO_AFTER.join('|')})|\\s?${KO_AFTER_SHORT}|\\s?${KO_AFTER_PAREN}|의\\s(?:${KO_KIN}))`,
  'g',
);

/** Case-insensitive spelling of an ASCII word, for a pattern whose other parts are case-sensitive. */
function anyCase(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`).replace(/ /g, '\\s+');
}

/** Role words that precede a name (`보호자 김영희`, `담당의: 이정훈`, `Dr. 박서준`, `patient 김민수`). */
const KO_BEFORE = [
  '주보호자',
  '보호자명',
  '보호자',
  '배우자',
  '아들',
  '장남',
  '차남',
  '장녀',
  '차녀',
  '큰딸',
  '작은딸',
  '딸',
  '어머니',
  '아버지',
  '어머님',
  '아버님',
  '모친',
  '부친',
  '남편',
  '아내',
  '부인',
  '할머니',
  '할아버지',
  '손자',
  '손녀',
  '며느리',
  '사위',
  '형',
  '누나',
  '오빠',
  '언니',
  '남동생',
  '여동생',
  '동생',
  '조카',
  '이모',
  '고모',
  '삼촌',
  '친구',
  '지인',
  '이웃',
  '담당의',
  '주치의',
  '담당간호사',
  '담당\\s간호사',
  '수간호사',
  '간호사',
  '전공의',
  '의뢰의',
  '집도의',
  '마취의',
  '판독의',
  '협진의',
  '시술자',
  '검사자',
  '작성자',
  '작성의',
  '기록자',
  '확인자',
  '서명',
  '환자명',
  '수진자명',
  '수진자',
  '환자',
  '성명',
  '성함',
  '이름',
  '요양보호사',
  '사회복지사',
  '교수님',
  '교수',
  '선생님',
  '원장',
  '과장',
  '대리인',
  '신청인',
  '동반자',
  'Dr\\.?',
  'Mr\\.?',
  'Mrs\\.?',
  'Ms\\.?',
  'Prof\\.?',
  ...['patient', 'pt', 'guardian', 'mother', 'father', 'wife', 'husband', 'son', 'daughter', 'nurse', 'by'].map(
    anyCase,
  ),
];
/** Cue words that start with a surname (`환자 성명: …`): a cue after a cue is where the next match starts. */
const KO_CUE_WORDS = new Set(KO_BEFORE.filter((w) => /^[가-힣]+$/.test(w)));
const KO_PRECEDED = new RegExp(
  `(?<![A-Za-z])(${KO_BEFORE.join('|')})([\\s:：,(\\[]*(?:[가-힣]{1,3}[)\\]]\\s*)?)(${SURNAME})`,
  'g',
);

/** Titles before a Latin-script name (`Dr. Smith`, `Mrs Park`). */
const LATIN_TITLES = ['Dr', 'Dra', 'Mr', 'Mrs', 'Ms', 'Mx', 'Miss', 'Prof', 'Professor', 'Sir', 'Nurse', 'Sister'];
/** Role words before a Latin-script name, any case (`mother Jane Doe`, `seen by: Alan Reyes`). */
const LATIN_ROLES = [
  'patient name',
  'patient',
  'pt',
  'client',
  'mother',
  'father',
  'mum',
  'mom',
  'dad',
  'wife',
  'husband',
  'spouse',
  'partner',
  'son',
  'daughter',
  'guardian',
  'carer',
  'caregiver',
  'sister',
  'brother',
  'sibling',
  'grandmother',
  'grandfather',
  'grandma',
  'grandpa',
  'grandson',
  'granddaughter',
  'aunt',
  'uncle',
  'niece',
  'nephew',
  'cousin',
  'friend',
  'neighbor',
  'neighbour',
  'nurse',
  'physician',
  'doctor',
  'surgeon',
  'consultant',
  'resident',
  'intern',
  'attending',
  'registrar',
  'therapist',
  'pharmacist',
  'midwife',
  'seen by',
  'signed by',
  'reviewed by',
  'dictated by',
  'transcribed by',
  'referred by',
  'referred to',
  'accompanied by',
  'examined by',
  'spoke with',
  'spoke to',
  'discussed with',
  'next of kin',
  'emergency contact',
  'contact person',
  'name',
  'dear',
  'attn',
  'cc',
];
/** A capitalised word of a name: `Smith`, `O'Neil`, `Min-su`, `McDonald`, an initial `J.`. */
const LATIN_WORD =
  "(?:[A-Z]['’][A-Z][a-z]+|[A-Z][a-z'’]*[a-z](?:[A-Z][a-z]+)?(?:-[A-Za-z][a-z'’]*)*|[A-Z]\\.|[A-Z]{2,}(?=\\s+[A-Z][a-z]))";
const LATIN_NAME = `${LATIN_WORD}(?:\\s${LATIN_WORD}){0,2}`;
const LATIN_TITLED = new RegExp(`\\b(?:${LATIN_TITLES.join('|')})\\b\\.?\\s*(${LATIN_NAME})`, 'g');
const KO_ROLES_BEFORE_LATIN =
  '보호자|환자|간호사|담당의|주치의|교수|배우자|아들|딸|남편|아내|어머니|아버지|모친|부친|성명|이름|환자명|작성자|판독의';
const LATIN_ROLED = new RegExp(
  `(?:\\b(?:${LATIN_ROLES.map(anyCase).join('|')})\\b|${KO_ROLES_BEFORE_LATIN})(?:\\s*[:,(-]\\s*|\\s+)(?:(?:is|was|named|called|[Mm]r|[Mm]rs|[Mm]s)\\.?\\s+)?(${LATIN_NAME})`,
  'g',
);
/** A Latin-script name before a Korean honorific, an age and sex, or a role in brackets (`Emma (granddaughter)`). */
const LATIN_FOLLOWED = new RegExp(
  `(${LATIN_NAME})(?=\\s?(?:님|씨|환자|보호자|간호사|교수|선생)|,?\\s+\\d{1,3}\\s?(?:[MF]\\b|yo\\b|y/o|-?year-old|세)|\\s*\\((?:the\\s|patient's\\s|pt's\\s|his\\s|her\\s)?(?:${LATIN_ROLES.join('|')}|보호자|배우자|딸|아들|남편|아내)\\b)`,
  'g',
);
/** Romanised Korean surnames: with a hyphenated given name (`Kim Min-su`, `Min-su Kim`) they are names anywhere. */
const ROMAN_SURNAMES =
  'Kim|Lee|Yi|Rhee|Park|Pak|Bak|Choi|Choe|Jung|Jeong|Chung|Kang|Cho|Jo|Yoon|Yun|Jang|Chang|Lim|Im|Han|Oh|Seo|Suh|Shin|Sin|Kwon|Hwang|Ahn|An|Song|Yoo|Yu|Ryu|Jeon|Jun|Hong|Ko|Go|Moon|Mun|Yang|Son|Sohn|Bae|Baek|Paik|Heo|Huh|Nam|Shim|Sim|Noh|Roh|Ha|Kwak|Sung|Seong|Cha|Joo|Ju|Woo|Koo|Gu|Min|Jin|Na|Ji|Eom|Chae|Won|Cheon|Bang|Kong|Hyun|Ham|Byun|Yeom|Choo|Do|So|Seok|Sun|Seol|Ma|Gil|Yeon|Wi|Pyo|Myung|Ki|Ban|Wang|Geum|Ok|Yook|In|Maeng|Je|Mo|Tak|Guk|Eo|Eun|Pyeon|Yong|Ye|Kyung|Bong|Sa|Boo|Ka|Bok|Tae|Mok|Hyung|Pi|Doo|Gam|Jegal|Namgung|Namkoong|Dokgo|Hwangbo|Sunwoo|Seonu';
const ROMAN_GIVEN = '[A-Z][a-z]+-[a-z]+';
const ROMAN_SURNAME = `(?:${ROMAN_SURNAMES}|${ROMAN_SURNAMES.toUpperCase()})`;
const ROMAN_KOREAN = new RegExp(
  `\\b(?:${ROMAN_SURNAME}\\s+${ROMAN_GIVEN}(?![A-Za-z'’-])|${ROMAN_GIVEN}\\s+${ROMAN_SURNAME}\\b)`,
  'g',
);

function wordSet(words: string): Set<string> {
  return new Set(words.split(/\s+/).filter((w) => w.length > 0));
}

/** Capitalised words that are not names wherever they stand: function words, verbs, titles, days, departments. */
const LATIN_COMMON =
  wordSet(`The A An And Or Of In On At To For With Without From By Is Was Has Had Have Not No None Denies Denied
  Reports Reported States Stated Says Said Presents Presented Complains Admitted Discharged Unknown Unremarkable Negative Positive
  Normal Stable Well Good Fair Poor Alive Deceased Died Healthy History Hx Education Information Care Portal Name Names ID Number
  Consent Safety Status Notes Note Dr Dra Mr Mrs Ms Mx Miss Prof Professor Sir Nurse Sister Neurology Cardiology Oncology Urology
  Nephrology Gastroenterology Pulmonology Dermatology Psychiatry Pediatrics Paediatrics Surgery Medicine Orthopedics Orthopaedics
  Radiology Pathology Anesthesia Anaesthesia Emergency Internal Family General Department Clinic Hospital Ward Unit Service Team
  Office Centre Center ICU ER ED OR GP RN MD PA NP OPD Korea Korean Seoul Busan Gwangju Incheon Daegu Daejeon Ulsan Monday Tuesday
  Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October November December
  Today Yesterday Tomorrow Morning Afternoon Evening Night Type Stage Grade Class Day Week Month Year Home Left Right Bilateral He
  She They His Her Their Him Patient Mother Father Wife Husband Son Daughter Guardian Doctor Please Thank Thanks Regards Kind Dear
  Yours Sincerely Signed Reviewed Seen Discussed Plan Assessment Impression Diagnosis Follow Follow-up Return Continue Start Stop
  Refer Referral Lives Living Passed Works Retired Present Absent Available Also Unable Able Bedside Visiting Visited Called Aware
  Informed Updated Agrees Agreed Requests Requested Wants Declined Prefers Practitioner Manager Station`);

/**
 * Capitalised clinical words after a role word (`Mother: Breast cancer`, `patient Parkinson disease`): not names
 * there. After a title (`Dr. Wilson`) they are.
 */
const LATIN_CLINICAL =
  wordSet(`Hypertension Diabetes Cancer Breast Lung Colon Prostate Stroke Asthma Heart Kidney Liver Dementia
  Depression Arthritis Obesity Pain Fever Cough Chest Abdomen Head Back Blood Urine Left-sided Right-sided Parkinson Parkinson's
  Parkinsons Alzheimer Alzheimer's Down Graves Graves' Crohn Crohn's Hodgkin Hodgkin's Cushing Cushing's Addison Addison's Hashimoto
  Hashimoto's Bell Bell's Huntington Huntington's Wilson Wilson's Marfan Raynaud Sjogren Kawasaki Tourette Guillain Barre Meniere
  Paget Wernicke Korsakoff Turner Klinefelter Asperger Lou Gehrig Gehrig's Babinski Murphy Murphy's Homans Kernig Brudzinski Apgar
  Glasgow Foley Swan Ganz Doppler Holter Pap Whipple Hartmann Nissen Roux Billroth Gram Ziehl Giemsa Thyroid Osteoporosis Glaucoma
  Gout Migraine Epilepsy Leukemia Lymphoma Hepatitis Tuberculosis Cirrhosis Anemia Schizophrenia Bipolar Autism Alcoholism
  Colorectal Gastric Stomach Ovarian Cervical Pancreatic Skin Bone Brain Renal Hepatic Cardiac Coronary Myocardial Chronic Acute
  Severe Mild Moderate Aspirin Metformin Insulin Warfarin Tylenol Advil Lipitor Amlodipine Losartan Atorvastatin Levothyroxine
  Omeprazole Prednisone`);

const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;

function isHangul(c: number): boolean {
  return c >= HANGUL_FIRST && c <= HANGUL_LAST;
}

/**
 * Cue words of the Latin patterns, any case, as one cheap test: most Latin strings (codes' displays, units,
 * statuses) hold none and skip the patterns.
 */
const LATIN_QUICK = new RegExp(
  `\\b(?:${[...LATIN_TITLES, ...LATIN_ROLES.map((r) => r.split(' ')[0]!)].join('|')})\\b|[가-힣]`,
  'i',
);

interface Prescreen {
  korean: boolean;
  latin: boolean;
  /** A digit, a bracket or Hangul: what LATIN_FOLLOWED needs after a name. */
  followed: boolean;
  hyphen: boolean;
}

/** One pass over the characters: which patterns can match at all. */
function prescreen(text: string): Prescreen {
  let hangul = 0;
  let capital = false;
  let followed = false;
  let hyphen = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      const n = text.charCodeAt(i + 1);
      if ((n >= 97 && n <= 122) || n === 46 || n === 39 || (n >= 65 && n <= 90)) capital = true;
    } else if (c >= HANGUL_FIRST && c <= HANGUL_LAST) hangul++;
    else if ((c >= 48 && c <= 57) || c === 40) followed = true;
    else if (c === 45) hyphen = true;
  }
  return { korean: hangul >= 2, latin: capital, followed: followed || hangul > 0, hyphen };
}

function allGivenSyllables(given: string): boolean {
  for (const s of given) if (!GIVEN_SYLLABLES.has(s)) return false;
  return true;
}

/** The length of the Hangul run starting at `from`. */
function hangulRun(text: string, from: number): number {
  let i = from;
  while (i < text.length && isHangul(text.charCodeAt(i))) i++;
  return i - from;
}

function koreanFollowed(text: string, out: NameSpan[]): void {
  KO_FOLLOWED.lastIndex = 0;
  for (let m = KO_FOLLOWED.exec(text); m !== null; m = KO_FOLLOWED.exec(text)) {
    const surname = m[1]!;
    const given = m[2]!;
    const end = m.index + m[0].length;
    if (given.length === 0) {
      const rest = text.slice(end).trimStart();
      let ok = false;
      for (const t of KO_SURNAME_ONLY_AFTER) if (rest.startsWith(t)) ok = true;
      if (!ok) continue;
    } else if (!allGivenSyllables(given) || KO_STOP.has(surname + given)) continue;
    out.push({ start: m.index, end });
  }
}

function koreanPreceded(text: string, out: NameSpan[]): void {
  KO_PRECEDED.lastIndex = 0;
  for (let m = KO_PRECEDED.exec(text); m !== null; m = KO_PRECEDED.exec(text)) {
    const cue = m[1]!;
    const sep = m[2]!;
    const surname = m[3]!;
    if (sep.length === 0 && !cue.endsWith('.')) continue; // `환자홍`: a cue glued to a word is no cue
    const start = m.index + cue.length + sep.length;
    const tail = hangulRun(text, start + surname.length);
    if (tail === 0) continue;
    const given = text.slice(start + surname.length, start + surname.length + Math.min(tail, 2));
    if (KO_STOP.has(surname + given) || KO_STOP.has(surname + given[0])) {
      if (KO_CUE_WORDS.has(surname + given) || KO_CUE_WORDS.has(surname + given[0])) KO_PRECEDED.lastIndex = start;
    }
    if (!allGivenSyllables(given) || KO_STOP.has(surname + given)) continue;
    // `설명함`, `전화로`: a stop word and an ending make one word.
    if (given.length === 2 && KO_STOP.has(surname + given[0]) && KO_ENDINGS.has(given[1]!)) continue;
    out.push({ start, end: start + surname.length + given.length });
    KO_PRECEDED.lastIndex = start + surname.length; // `어머니 김영희, 아버지 이철수`: the next cue may follow
  }
}

/** The name part of a Latin match, without leading or trailing words that are not names. */
function latinSpan(start: number, name: string, titled: boolean, out: NameSpan[]): void {
  const words = name.split(/\s/);
  const notName = (w: string) => {
    const bare = w.replace(/\.$/, '');
    return LATIN_COMMON.has(bare) || (!titled && LATIN_CLINICAL.has(bare));
  };
  let first = 0;
  let last = words.length;
  while (first < last && notName(words[first]!)) first++;
  while (last > first && notName(words[last - 1]!)) last--;
  if (first === last) return;
  // A lone initial (`Dr. J.`) is still a name; a lone ALL-CAPS word after a role is usually an acronym.
  let offset = start;
  for (let i = 0; i < first; i++) offset += words[i]!.length + 1;
  const kept = words.slice(first, last).join(' ');
  out.push({ start: offset, end: offset + kept.length });
}

function latin(text: string, screen: Prescreen, out: NameSpan[]): void {
  if (screen.hyphen) {
    ROMAN_KOREAN.lastIndex = 0;
    for (let m = ROMAN_KOREAN.exec(text); m !== null; m = ROMAN_KOREAN.exec(text)) {
      out.push({ start: m.index, end: m.index + m[0].length });
    }
  }
  if (screen.followed) {
    LATIN_FOLLOWED.lastIndex = 0;
    for (let m = LATIN_FOLLOWED.exec(text); m !== null; m = LATIN_FOLLOWED.exec(text)) {
      latinSpan(m.index, m[1]!, false, out);
    }
  }
  if (!LATIN_QUICK.test(text)) return;
  for (const re of [LATIN_TITLED, LATIN_ROLED]) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const name = m[1]!;
      latinSpan(m.index + m[0].length - name.length, name, re === LATIN_TITLED, out);
    }
  }
}

/** Spans of the names recognised in `text`, sorted and merged. */
export function findNames(text: string): NameSpan[] {
  const screen = prescreen(text);
  if (!screen.korean && !screen.latin) return [];
  const spans: NameSpan[] = [];
  if (screen.korean) {
    koreanFollowed(text, spans);
    koreanPreceded(text, spans);
  }
  if (screen.latin) latin(text, screen, spans);
  if (spans.length < 2) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: NameSpan[] = [spans[0]!];
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    const top = merged[merged.length - 1]!;
    if (s.start <= top.end) top.end = Math.max(top.end, s.end);
    else merged.push(s);
  }
  return merged;
}

/** `text` with every recognised name replaced by `[NAME]`; the same string when there is none. */
export function scrubNames(text: string): string {
  const spans = findNames(text);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + NAME_MASK;
    at = s.end;
  }
  return out + text.slice(at);
}

/** Whether `s` could be a Korean surname (used by the run's name dictionary to split full names). */
export function isKoreanSurname(s: string): boolean {
  return SURNAME_SET.has(s);
}
