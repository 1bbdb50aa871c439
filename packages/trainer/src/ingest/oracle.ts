// The truth of a synthetic world: the function that generated its clicks, conversions and revenue,
// so evaluation can report what a perfect model would reach. Pure math over the world's parameters
// (dataset.json `oracle`) and latent factors (users / items tables, `oracle:*` columns).
//
//   φ(t)        = (t − start) / span                       time through the world, in [0, 1]
//   interest    = (1 − driftWeight·φ) · latent_u + driftWeight·φ · drift_u       (D)
//   clickLogit  = scale · (interest + deviceShift[device]) · latent_i
//               + bias_i + hourAmp[c_i] · cos(2π (hour − hourPeak[c_i]) / 24) + clickOffset
// pConversion = σ(convScale · interest · latent_i − priceEffect · (ln price_i − meanLogPrice) + convOffset)   (given a
// click)
//   E[revenue]  = σ(clickLogit) · pConversion · price_i                            (per impression)
// with D = dim, c_i the item's category, device ∈ {0 mobile, 1 desktop, 2 tablet}.
// Impressions come from a logging policy, so the item a user clicks next also depends on what was
// shown: P(shown i) = interest · softmax_k(policyTemperature · interest · centre_k)[c_i] / |c_i|
//                   + popular · exposure_i + uniform / N,
// and the best possible next-click ranking orders items by P(shown i) · σ(clickLogit_i).

/** World-level constants and small tables, as stored in dataset.json `oracle`. */
export interface WorldParameters {
  dim: number;
  start: number; // unix seconds of the world's first day
  span: number; //  seconds covered by the world
  scale: number;
  clickOffset: number;
  driftWeight: number;
  convScale: number;
  convOffset: number;
  priceEffect: number;
  meanLogPrice: number;
  hourPeak: number[]; //    (K) hour of the day a category peaks
  hourAmp: number[]; //     (K) how much it peaks, in logits
  deviceShift: number[]; // (3·D) interest shift per device, row-major
  categoryCentre: number[]; // (K·D) category centres, row-major
  policy: { interest: number; popular: number; uniform: number; temperature: number };
}

/** The parameters plus every entity's latent factors. U users, N items, D dim. */
export interface WorldTruth extends WorldParameters {
  userLatent: Float32Array; //   (U, D) long-term interest
  userDrift: Float32Array; //    (U, D) the interest the user drifts towards over the span
  itemLatent: Float32Array; //   (N, D)
  itemBias: Float32Array; //     (N) popularity in logits
  itemCategory: Int32Array; //   (N) category index 0..K-1
  itemPrice: Float32Array; //    (N)
  itemExposure: Float32Array; // (N) probability of the policy's popular draw picking the item
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The user's interest vector at time `ts` into `out` (D). */
export function interestAt(w: WorldTruth, user: number, ts: number, out: Float32Array): Float32Array {
  const D = w.dim;
  const phi = Math.min(1, Math.max(0, (ts - w.start) / w.span));
  const a = 1 - w.driftWeight * phi;
  const b = w.driftWeight * phi;
  for (let d = 0; d < D; d++) out[d] = a * w.userLatent[user * D + d] + b * w.userDrift[user * D + d];
  return out;
}

function dotRow(vec: Float32Array, mat: Float32Array, row: number, D: number, shift?: number[], shiftRow = 0): number {
  let s = 0;
  if (shift) for (let d = 0; d < D; d++) s += (vec[d] + shift[shiftRow * D + d]) * mat[row * D + d];
  else for (let d = 0; d < D; d++) s += vec[d] * mat[row * D + d];
  return s;
}

/** The hour-of-day effect of an item's category. */
export function hourEffect(w: WorldParameters, category: number, hour: number): number {
  return w.hourAmp[category] * Math.cos((2 * Math.PI * (hour - w.hourPeak[category])) / 24);
}

/** True click logit of one impression, given the user's interest at that time. */
export function clickLogitFor(
  w: WorldTruth,
  interest: Float32Array,
  item: number,
  hour: number,
  device: number,
): number {
  return (
    w.scale * dotRow(interest, w.itemLatent, item, w.dim, w.deviceShift, device) +
    w.itemBias[item] +
    hourEffect(w, w.itemCategory[item], hour) +
    w.clickOffset
  );
}

/** True conversion probability given a click. */
export function conversionFor(w: WorldTruth, interest: Float32Array, item: number): number {
  return sigmoid(
    w.convScale * dotRow(interest, w.itemLatent, item, w.dim) -
      w.priceEffect * (Math.log(w.itemPrice[item]) - w.meanLogPrice) +
      w.convOffset,
  );
}

/** Probability that one slate slot shows each item to a user with this interest, into `out` (N). */
export function exposureFor(w: WorldTruth, interest: Float32Array, out: Float32Array): Float32Array {
  const D = w.dim;
  const K = w.hourPeak.length;
  const N = w.itemBias.length;
  const size = new Float64Array(K);
  for (let i = 0; i < N; i++) size[w.itemCategory[i]]++;
  const weight = new Float64Array(K);
  let total = 0;
  for (let k = 0; k < K; k++) {
    if (size[k] === 0) continue;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += interest[d] * w.categoryCentre[k * D + d];
    total += weight[k] = Math.exp(w.policy.temperature * dot);
  }
  for (let i = 0; i < N; i++) {
    const k = w.itemCategory[i];
    out[i] =
      (w.policy.interest * weight[k]) / total / size[k] + w.policy.popular * w.itemExposure[i] + w.policy.uniform / N;
  }
  return out;
}

/**
 * The oracle's next-click scores: log P(shown) + log P(click | shown) for every item, into `out`
 * (N): the best achievable ranking of what the user clicks next at (ts, hour, device).
 * @example topK(nextClickScores(truth, u, ts, hour, device, scores), 100, trainItems)
 */
export function nextClickScores(
  w: WorldTruth,
  user: number,
  ts: number,
  hour: number,
  device: number,
  out: Float32Array,
): Float32Array {
  const interest = interestAt(w, user, ts, new Float32Array(w.dim));
  exposureFor(w, interest, out);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.log(out[i]) - Math.log1p(Math.exp(-clickLogitFor(w, interest, i, hour, device)));
  return out;
}

/**
 * The oracle's retrieval scores: the true click logit of every item for `user` at (ts, hour, device),
 * into `out` (N). Rank them with `topK` from @vireo/core for the best achievable Recall@K.
 * @example const scores = scoreAllItems(truth, u, ts, hour, device, new Float32Array(truth.itemBias.length));
 */
export function scoreAllItems(
  w: WorldTruth,
  user: number,
  ts: number,
  hour: number,
  device: number,
  out: Float32Array,
): Float32Array {
  const interest = interestAt(w, user, ts, new Float32Array(w.dim));
  for (let i = 0; i < w.itemBias.length; i++) out[i] = clickLogitFor(w, interest, i, hour, device);
  return out;
}
