/** A number for tables and charts: 0 decimals from 100, 1 from 10, else 2 (non-finite as is). */
export function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
