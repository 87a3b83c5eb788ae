/**
 * The three demo regions: population, age-sex structure, districts, and the hospitals whose records the
 * generator writes.
 *
 * Age shares per 10-year band (0-9, 10-19, ..., 70-79, 80+) and male shares are rounded from Statistics
 * Korea's resident registration population by city/province, December 2023 (KOSIS table DT_1B04005N). They
 * are approximate (read to the nearest 0.1-0.5 point), but keep the differences that matter here: Busan is
 * the oldest of the three (about 23% aged 65+), Gyeonggi the youngest (about 16%), Gwangju in between.
 * Populations (for the epidemic model) are the same source's totals, rounded.
 */

export type RegionId = 'gwangju' | 'gyeonggi' | 'busan';

export interface Weighted {
  readonly name: string;
  readonly weight: number;
}

export interface Hospital {
  /** Local Organization id in this region's output. */
  readonly id: string;
  readonly name: string;
  readonly kind: 'tertiary' | 'general' | 'clinic' | 'screening';
}

export interface Region {
  readonly id: RegionId;
  /** Two-letter code used in local ids. */
  readonly code: string;
  readonly nameKo: string;
  readonly population: number;
  readonly ageShares: readonly number[];
  readonly maleShares: readonly number[];
  readonly districts: readonly Weighted[];
  readonly streets: readonly string[];
  readonly postalPrefix: readonly string[];
  readonly landlineArea: string;
  readonly hospitals: readonly Hospital[];
  /** Share of this region's travelling patients treated in each other region. */
  readonly travelTo: Partial<Record<RegionId, number>>;
}

export const AGE_BANDS = ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-69', '70-79', '80+'] as const;

/** Fictional hospital names: the data is synthetic and must not be mistaken for a real hospital's. */
function hospitals(code: string, city: string): Hospital[] {
  return [
    { id: `${code}-h1`, name: `${city}대학교병원`, kind: 'tertiary' },
    { id: `${code}-h2`, name: `${city}중앙병원`, kind: 'general' },
    { id: `${code}-h3`, name: `${city}연합내과의원`, kind: 'clinic' },
    { id: `${code}-h4`, name: `${city}건강검진센터`, kind: 'screening' },
  ];
}

export const REGIONS: Readonly<Record<RegionId, Region>> = {
  gwangju: {
    id: 'gwangju',
    code: 'gj',
    nameKo: '광주광역시',
    population: 1_420_000,
    ageShares: [7.0, 10.4, 13.5, 12.8, 15.8, 16.4, 12.9, 7.1, 4.1],
    maleShares: [0.514, 0.515, 0.52, 0.515, 0.505, 0.495, 0.48, 0.44, 0.34],
    districts: [
      { name: '북구', weight: 420 },
      { name: '광산구', weight: 390 },
      { name: '서구', weight: 290 },
      { name: '남구', weight: 210 },
      { name: '동구', weight: 110 },
    ],
    streets: ['용봉로', '무진대로', '상무대로', '금남로', '첨단중앙로', '하남대로', '월드컵4강로', '서문대로'],
    postalPrefix: ['61', '62'],
    landlineArea: '062',
    hospitals: hospitals('gj', '빛고을'),
    travelTo: { gyeonggi: 0.6, busan: 0.4 },
  },
  gyeonggi: {
    id: 'gyeonggi',
    code: 'gg',
    nameKo: '경기도',
    population: 13_630_000,
    ageShares: [7.2, 9.9, 12.6, 13.9, 16.9, 16.7, 12.6, 6.4, 3.8],
    maleShares: [0.513, 0.516, 0.525, 0.52, 0.51, 0.5, 0.485, 0.45, 0.35],
    districts: [
      { name: '수원시', weight: 1190 },
      { name: '용인시', weight: 1080 },
      { name: '고양시', weight: 1070 },
      { name: '화성시', weight: 940 },
      { name: '성남시', weight: 910 },
      { name: '부천시', weight: 780 },
      { name: '남양주시', weight: 730 },
      { name: '안산시', weight: 620 },
      { name: '평택시', weight: 590 },
      { name: '안양시', weight: 550 },
      { name: '시흥시', weight: 520 },
      { name: '파주시', weight: 500 },
      { name: '김포시', weight: 490 },
      { name: '의정부시', weight: 460 },
      { name: '광주시', weight: 390 },
      { name: '하남시', weight: 330 },
    ],
    streets: ['중부대로', '경수대로', '성남대로', '중앙로', '호수로', '경춘로', '정조로', '동탄대로'],
    postalPrefix: ['10', '11', '12', '13', '14', '15', '16', '17', '18'],
    landlineArea: '031',
    hospitals: hospitals('gg', '한가람'),
    travelTo: { gwangju: 0.35, busan: 0.65 },
  },
  busan: {
    id: 'busan',
    code: 'bs',
    nameKo: '부산광역시',
    population: 3_290_000,
    ageShares: [5.6, 7.9, 11.8, 11.6, 14.4, 16.5, 17.0, 9.8, 5.4],
    maleShares: [0.513, 0.515, 0.52, 0.515, 0.5, 0.49, 0.475, 0.43, 0.33],
    districts: [
      { name: '해운대구', weight: 380 },
      { name: '부산진구', weight: 360 },
      { name: '사하구', weight: 300 },
      { name: '북구', weight: 270 },
      { name: '동래구', weight: 260 },
      { name: '남구', weight: 250 },
      { name: '금정구', weight: 210 },
      { name: '연제구', weight: 200 },
      { name: '사상구', weight: 200 },
      { name: '수영구', weight: 170 },
      { name: '기장군', weight: 180 },
      { name: '강서구', weight: 140 },
      { name: '서구', weight: 100 },
      { name: '영도구', weight: 105 },
      { name: '동구', weight: 85 },
      { name: '중구', weight: 40 },
    ],
    streets: ['중앙대로', '해운대로', '수영로', '낙동대로', '가야대로', '충렬대로', '금정로', '과정로'],
    postalPrefix: ['46', '47', '48', '49'],
    landlineArea: '051',
    hospitals: hospitals('bs', '바다'),
    travelTo: { gyeonggi: 0.7, gwangju: 0.3 },
  },
};

export const REGION_IDS: readonly RegionId[] = ['gwangju', 'gyeonggi', 'busan'];

export function isRegionId(s: string): s is RegionId {
  return (REGION_IDS as readonly string[]).includes(s);
}
