import { availableParallelism } from 'node:os';
import { appConfig, defaultMaxPeers, LOSS_FREE_PUBLISHERS_PER_CORE } from './app.config';

describe('appConfig: MAX_PEERS', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  const maxPeersWith = (env: Record<string, string>) => {
    process.env = { ...saved, MAX_PEERS: undefined, ...env };
    return appConfig().maxPeers;
  };

  it('defaults to the loss-free figure per core of the profile, for every core', () => {
    const cores = availableParallelism();
    expect(maxPeersWith({ HLS_PROFILE: 'copy' })).toBe(LOSS_FREE_PUBLISHERS_PER_CORE.copy * cores);
    expect(maxPeersWith({ HLS_PROFILE: 'legacy' })).toBe(LOSS_FREE_PUBLISHERS_PER_CORE.legacy * cores);
  });

  it('takes what is set, 0 being no cap', () => {
    expect(maxPeersWith({ MAX_PEERS: '0' })).toBe(0);
    expect(maxPeersWith({ MAX_PEERS: '3', HLS_PROFILE: 'legacy' })).toBe(3);
  });

  it('counts at least one core', () => {
    expect(defaultMaxPeers('copy', 0)).toBe(LOSS_FREE_PUBLISHERS_PER_CORE.copy);
    expect(defaultMaxPeers('legacy', 4)).toBe(4 * LOSS_FREE_PUBLISHERS_PER_CORE.legacy);
  });
});
