import { LayerSelector } from './layer-selector';

describe('LayerSelector (simulcast hysteresis)', () => {
  const scores = (...perLayer: number[]) => perLayer.map((score, encodingIdx) => ({ encodingIdx, score }));

  it('takes the best flowing layer, and layers still ramping up during the settle time', () => {
    const s = new LayerSelector(6000, 3000);
    expect(s.update(scores(10, 10, 0), 0)).toBe(1);
    expect(s.update(scores(10, 10, 10), 1000)).toBe(2);
  });

  it('goes down at once when the current layer stops', () => {
    const s = new LayerSelector(6000, 0);
    s.update(scores(10, 10, 10), 0);
    expect(s.update(scores(10, 10, 0), 10_000)).toBe(1);
  });

  it('goes up only after the better layer has flowed for the hold time, not on every flap', () => {
    const s = new LayerSelector(6000, 0);
    s.update(scores(10, 10, 10), 0);
    s.update(scores(10, 10, 0), 100); // layer 2 drops
    expect(s.update(scores(10, 10, 10), 1000)).toBeUndefined(); // back, but not for long
    expect(s.update(scores(10, 10, 0), 2000)).toBeUndefined(); // flapped again: still on 1
    expect(s.update(scores(10, 10, 10), 3000)).toBeUndefined();
    expect(s.evaluate(8000)).toBeUndefined();
    expect(s.evaluate(9000)).toBe(2); // 6 s of layer 2
    expect(s.layer).toBe(2);
  });

  it('chooses nothing while no layer flows', () => {
    const s = new LayerSelector();
    expect(s.update(scores(0, 0, 0), 0)).toBeUndefined();
    expect(s.layer).toBeUndefined();
  });
});
