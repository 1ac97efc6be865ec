// Prints the browser bundle's size: raw, gzip and brotli, per file and in total.
// Usage: node scripts/bundle-size.mjs FILE...   (also writes target/site/bundle-size.json)
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const rows = process.argv.slice(2).map((file) => {
  const bytes = readFileSync(file);
  return {
    file: basename(file),
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
});
const total = rows.reduce((t, r) => ({ file: "total", raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), {
  file: "total", raw: 0, gzip: 0, brotli: 0,
});
for (const r of [...rows, total]) {
  console.log(`bundle size: ${r.file.padEnd(20)} raw ${kb(r.raw).padStart(10)}  gzip ${kb(r.gzip).padStart(10)}  brotli ${kb(r.brotli).padStart(10)}`);
}
writeFileSync("target/site/bundle-size.json", JSON.stringify({ files: rows, total }, null, 2) + "\n");
