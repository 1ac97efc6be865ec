// Writes FILE.br and FILE.gz beside each file (the server sends them to browsers that
// accept them: compressing a 0.5 MB wasm per request would cost more than serving it),
// then prints the script bundle's size, raw, gzip and brotli: the wasm and JS files,
// per file and in total (also written to NAME.bundle-size.json, NAME being the first
// file's without `_bg.wasm`, in the folder above it: target/site/ for the site's pkg/).
// Usage: node scripts/compress-bundle.mjs FILE...
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const rows = process.argv.slice(2).map((file) => {
  const bytes = readFileSync(file);
  const gzip = gzipSync(bytes, { level: 9 });
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  writeFileSync(`${file}.gz`, gzip);
  writeFileSync(`${file}.br`, brotli);
  return { file: basename(file), raw: bytes.length, gzip: gzip.length, brotli: brotli.length };
});
const scripts = rows.filter((r) => /\.(wasm|js)$/.test(r.file));
const total = scripts.reduce((t, r) => ({ file: "total", raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), {
  file: "total", raw: 0, gzip: 0, brotli: 0,
});
for (const r of [...scripts, total]) {
  console.log(`bundle size: ${r.file.padEnd(20)} raw ${kb(r.raw).padStart(10)}  gzip ${kb(r.gzip).padStart(10)}  brotli ${kb(r.brotli).padStart(10)}`);
}
const name = basename(process.argv[2]).replace(/_bg\.wasm$/, "");
const report = join(dirname(process.argv[2]), "..", `${name}.bundle-size.json`);
writeFileSync(report, JSON.stringify({ files: scripts, total }, null, 2) + "\n");
