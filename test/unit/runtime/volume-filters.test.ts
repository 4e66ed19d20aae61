// `volume ls --filter` and `volume prune --filter`: docker's keys and rules (src/runtime/volumes.ts).
import { describe, expect, it } from 'vitest';
import { parseVolumeFilters, volumeMatches, type VolumeInfo } from '../../../src/runtime/volumes.js';
import { userError } from '../../helpers/errors.js';

const vol = (Name: string, Labels: Record<string, string> = {}): VolumeInfo => ({ Name, Labels, CreatedAt: '', Driver: 'local', Mountpoint: `/v/${Name}/_data`, Options: {}, Scope: 'local' });
const all = [vol('db', { team: 'a', keep: '' }), vol('cache', { team: 'b' }), vol('0a1b'.repeat(16))];
const used = new Set(['db']);
const pick = (verb: 'ls' | 'prune', ...f: string[]) => all.filter((v) => volumeMatches(v, parseVolumeFilters(f, verb), used)).map((v) => v.Name.slice(0, 5));

describe('volume ls --filter', () => {
  it('dangling (no container names it), name (a part of it), label, driver', () => {
    expect(pick('ls', 'dangling=true')).toEqual(['cache', '0a1b0']);
    expect(pick('ls', 'dangling=0')).toEqual(['db']);
    expect(pick('ls', 'name=ach')).toEqual(['cache']);
    expect(pick('ls', 'name=db', 'name=cache')).toEqual(['db', 'cache']);
    expect(pick('ls', 'label=team')).toEqual(['db', 'cache']);
    expect(pick('ls', 'label=team=b')).toEqual(['cache']);
    // every label= must hold (docker's MatchKVList)
    expect(pick('ls', 'label=team', 'label=keep')).toEqual(['db']);
    expect(pick('ls', 'driver=local', 'dangling=true', 'label=team')).toEqual(['cache']);
    expect(pick('ls')).toHaveLength(3);
  });
  it('bad filters: one line each, exit 1 (the daemon refuses them)', () => {
    for (const [f, re] of [
      ['bogus=1', /^invalid filter 'bogus': use one of dangling, driver, label, name$/],
      ['dangling=maybe', /^invalid filter 'dangling=maybe': use dangling=true or dangling=false$/],
      ['dangling', /^bad format of filter "dangling": use KEY=VALUE/],
    ] as const)
      expect(userError(() => parseVolumeFilters([f], 'ls'), 1)).toMatch(re);
  });
});

describe('volume prune --filter', () => {
  it('label= keeps to those, label!= spares those', () => {
    expect(pick('prune', 'label=team')).toEqual(['db', 'cache']);
    expect(pick('prune', 'label!=team=a')).toEqual(['cache', '0a1b0']);
    expect(pick('prune', 'label!=team')).toEqual(['0a1b0']);
    expect(userError(() => parseVolumeFilters(['dangling=true'], 'prune'), 1)).toMatch(/use one of label, label!$/);
  });
});
