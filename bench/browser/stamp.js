// The wall-clock stamp drawn into the published video and read back from the HLS output.
// 48 blocks of 32x32 px (3 rows of 16) on a 640x480 frame: 40 bits of Date.now() modulo 2^40
// (34 years) and an 8-bit checksum, black = 0, white = 1. Blocks this large survive H264 at
// 640x480 and any scaling a player does; the checksum rejects frames the decoder blended.
export const STAMP = { x: 64, y: 176, block: 32, cols: 16, rows: 3, bits: 40, checkBits: 8 };
const MOD = 2 ** STAMP.bits;

function checksum(value) {
  let sum = 0x5a;
  for (let i = 0; i < STAMP.bits / 8; i++) sum = (sum * 31 + (Math.floor(value / 2 ** (8 * i)) % 256)) % 256;
  return sum;
}

/** Bits (most significant first) for a wall-clock time in ms. */
export function encodeStamp(ms) {
  const value = Math.floor(ms) % MOD;
  const bits = [];
  for (let i = STAMP.bits - 1; i >= 0; i--) bits.push(Math.floor(value / 2 ** i) % 2);
  const check = checksum(value);
  for (let i = STAMP.checkBits - 1; i >= 0; i--) bits.push((check >> i) & 1);
  return bits;
}

/** The full wall-clock ms a decoded 40-bit value stands for (the latest time ≤ now with that value). */
export function decodeStamp(bits, now) {
  if (bits.length !== STAMP.bits + STAMP.checkBits) return undefined;
  let value = 0;
  for (let i = 0; i < STAMP.bits; i++) value = value * 2 + bits[i];
  let check = 0;
  for (let i = STAMP.bits; i < bits.length; i++) check = check * 2 + bits[i];
  if (check !== checksum(value)) return undefined;
  const base = now - ((((now - value) % MOD) + MOD) % MOD);
  return base;
}

export function drawStamp(ctx, ms) {
  const bits = encodeStamp(ms);
  const { x, y, block, cols } = STAMP;
  ctx.fillStyle = '#808080'; // a grey margin keeps the blocks apart from the moving content
  ctx.fillRect(x - 8, y - 8, cols * block + 16, STAMP.rows * block + 16);
  bits.forEach((bit, i) => {
    ctx.fillStyle = bit ? '#fff' : '#000';
    ctx.fillRect(x + (i % cols) * block, y + Math.floor(i / cols) * block, block, block);
  });
}

/** Reads the blocks from RGBA pixels of the stamp area (its top-left at STAMP.x, STAMP.y). */
export function readStampBits(data, width) {
  const { block, cols, rows } = STAMP;
  const bits = [];
  for (let i = 0; i < cols * rows; i++) {
    const bx = (i % cols) * block;
    const by = Math.floor(i / cols) * block;
    let sum = 0;
    let n = 0;
    // The block's middle half only: edges ring after compression.
    for (let yy = by + block / 4; yy < by + (3 * block) / 4; yy += 2) {
      for (let xx = bx + block / 4; xx < bx + (3 * block) / 4; xx += 2) {
        const o = (yy * width + xx) * 4;
        sum += (data[o] + data[o + 1] + data[o + 2]) / 3;
        n++;
      }
    }
    bits.push(sum / n > 128 ? 1 : 0);
  }
  return bits;
}
