/**
 * Seeded randomness for the synthetic traffic generator: sfc32 (Chris Doty-Humphrey's Small Fast
 * Chaotic PRNG, 128-bit state, passes PractRand to many terabytes) and a Zipf sampler.
 *
 * Everything here is pure integer / IEEE arithmetic on plain numbers, so the same seed gives the
 * same sequence on every platform, which is what makes `gen-pcap` output byte-identical per seed.
 */

const TWO_POW_32 = 4294967296;

/** splitmix32 step: spreads a poor seed (0, 1, 2 …) over the whole state space. */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [next, (z ^ (z >>> 15)) >>> 0];
}

export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * @param seed any safe non-negative integer; both 32-bit halves take part.
   * @param stream selects an independent sequence for the same seed, so each part of a program can
   *   draw from its own stream and adding draws to one part does not shift the others.
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    let state = (seed >>> 0) ^ Math.imul(stream + 1, 0x85ebca6b);
    let out: number;
    [state, out] = splitmix32(state);
    this.a = out | 0;
    [state, out] = splitmix32(state ^ Math.floor(seed / TWO_POW_32));
    this.b = out | 0;
    [state, out] = splitmix32(state);
    this.c = out | 0;
    [, out] = splitmix32(state ^ stream);
    this.d = out | 0;
    // sfc32's author recommends discarding early outputs so nearby seeds decorrelate.
    for (let i = 0; i < 16; i++) this.nextUint32();
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const t = (this.a + this.b + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution (plenty for traffic shapes). */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /**
   * Uniform integer in [0, n). Multiply-shift rather than rejection: the bias is below n / 2^32,
   * invisible at the sizes used here (n ≤ a few million), and the cost is one draw, always.
   */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** Uniform integer in [low, high], both inclusive. */
  nextRange(low: number, high: number): number {
    return low + this.nextInt(high - low + 1);
  }
}

/**
 * Zipf(s) over ranks 1..n: P(k) ∝ k^-s. Rejection-inversion (Hörmann & Derflinger 1996, as in
 * Apache Commons RNG's RejectionInversionZipfSampler): O(1) memory and about 1.1 uniform draws per
 * sample for any n, so millions of samples over hundreds of thousands of ranks stay cheap.
 */
export class ZipfSampler {
  readonly n: number;
  readonly exponent: number;
  private readonly rng: Sfc32;
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  private readonly squeeze: number;

  constructor(n: number, exponent: number, rng: Sfc32) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Zipf needs at least one rank, got ${n}`);
    if (!(exponent > 0)) throw new RangeError(`Zipf exponent must be > 0, got ${exponent}`);
    this.n = n;
    this.exponent = exponent;
    this.rng = rng;
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralN = this.hIntegral(n + 0.5);
    this.squeeze = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  /** A rank in [1, n]. */
  sample(): number {
    for (;;) {
      const u = this.hIntegralN + this.rng.nextFloat() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.squeeze || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }

  private h(x: number): number {
    return Math.exp(-this.exponent * Math.log(x));
  }

  /** Antiderivative of h, written through log1p/expm1 helpers so s → 1 stays accurate. */
  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return expm1OverX((1 - this.exponent) * logX) * logX;
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.exponent);
    if (t < -1) t = -1; // rounding can push t just past the pole of log1p
    return Math.exp(log1pOverX(t) * x);
  }
}

function log1pOverX(x: number): number {
  if (Math.abs(x) > 1e-8) return Math.log1p(x) / x;
  return 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

function expm1OverX(x: number): number {
  if (Math.abs(x) > 1e-8) return Math.expm1(x) / x;
  return 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

/** Generalised harmonic number H(n, s) = Σ k^-s, for expected Zipf shares (tests, reports). */
export function harmonicNumber(n: number, exponent: number): number {
  let sum = 0;
  for (let k = n; k >= 1; k--) sum += Math.pow(k, -exponent); // smallest terms first: less rounding
  return sum;
}
