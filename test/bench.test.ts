// The bench harness runs end to end: `bench/index.ts --quick --scale 0.004` (every workload, peer and
// sweep on tiny shapes, a tiny time budget) exits 0 and writes the JSON, the Markdown report and both
// SVG charts. No timing is asserted: the figures of such a run mean nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'fuseloss-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --quick (tiny budget)', () => {
  it('runs every section and writes the JSON, the report and the charts', () => {
    const r = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bench/index.ts', '--quick', '--scale', '0.004', '--out', out],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(out);
    const stem = files.find((f) => f.endsWith('-bench.json'))!.replace(/\.json$/, '');
    expect(files.sort()).toEqual([`${stem}-peers.svg`, `${stem}-scaling.svg`, `${stem}.json`, `${stem}.md`]);
    const json = JSON.parse(readFileSync(join(out, `${stem}.json`), 'utf8'));
    expect(json.args.quick).toBe(true);
    // every section produced rows
    for (const key of ['rows', 'multiTask', 'reduce', 'scaling']) expect(json[key].length, key).toBeGreaterThan(0);
    expect(new Set(json.rows.map((x: { impl: string }) => x.impl.split(' ')[0]))).toEqual(new Set(['reference', 'native']));
    // each peer either ran (and its values matched fuseloss's: no mismatch notes) or says why it was skipped
    for (const peer of ['torch', 'onnxruntime', 'tfjs']) {
      const p = json[peer];
      if (p.rows.length) for (const row of p.rows) expect(row.note, `${peer} ${row.workload}`).toBeUndefined();
      else expect(p.note, peer).toMatch(/skipped/);
    }
    // onnxruntime-node and tfjs are dev dependencies: they must have run
    expect(json.onnxruntime.rows.length).toBeGreaterThan(0);
    expect(json.tfjs.rows.length).toBeGreaterThan(0);
    const md = readFileSync(join(out, `${stem}.md`), 'utf8');
    expect(md).toMatch(/tiny shapes for a smoke test/);
    expect(md).toContain(`](${stem}-peers.svg)`);
    expect(md).toContain(`](${stem}-scaling.svg)`);
    for (const svg of [`${stem}-peers.svg`, `${stem}-scaling.svg`]) {
      const text = readFileSync(join(out, svg), 'utf8');
      expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(text.trimEnd().endsWith('</svg>')).toBe(true);
      expect(text).not.toMatch(/NaN|undefined/);
    }
    expect(r.stdout).toMatch(/^headline: crossEntropy \[16,1000\]/m);
  }, 150_000);

  it('rejects unknown arguments with the usage', () => {
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bench/index.ts', '--fast'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown argument --fast \(expected --quick/);
  });
});
