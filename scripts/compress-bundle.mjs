// Writes FILE.br and FILE.gz beside each file (the server sends them to browsers that
// accept them: compressing a 0.5 MB wasm per request would cost more than serving it),
// then prints the script bundle's size, raw, gzip and brotli: the wasm and JS files,
// per file and in total (also written to NAME.bundle-size.json, NAME being the first
// file's without `_bg.wasm`, in the folder above it: target/site/ for the site's pkg/).
// Files after `--on-demand` are chunks a page loads only when their code is first needed:
// compressed too, and counted apart (`on_demand` in the JSON), not in the page's total.
// Usage: node scripts/compress-bundle.mjs FILE... [--on-demand FILE...]
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const compress = (file) => {
  const bytes = readFileSync(file);
  const gzip = gzipSync(bytes, { level: 9 });
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  writeFileSync(`${file}.gz`, gzip);
  writeFileSync(`${file}.br`, brotli);
  return { file: basename(file), raw: bytes.length, gzip: gzip.length, brotli: brotli.length };
};
const sum = (rows, file) => rows.reduce((t, r) => ({ file, raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), {
  file, raw: 0, gzip: 0, brotli: 0,
});
const print = (rows) => {
  for (const r of rows) {
    console.log(`bundle size: ${r.file.padEnd(20)} raw ${kb(r.raw).padStart(10)}  gzip ${kb(r.gzip).padStart(10)}  brotli ${kb(r.brotli).padStart(10)}`);
  }
};

const args = process.argv.slice(2);
const split = args.includes("--on-demand") ? args.indexOf("--on-demand") : args.length;
const isScript = (r) => /\.(wasm|js)$/.test(r.file);
const scripts = args.slice(0, split).map(compress).filter(isScript);
const chunks = args.slice(split + 1).map(compress);
const total = sum(scripts, "total");
print([...scripts, total]);
const report = { files: scripts, total };
if (chunks.length > 0) {
  report.on_demand = { files: chunks, total: sum(chunks, "on demand") };
  print([...chunks, report.on_demand.total]);
}
const name = basename(args[0]).replace(/_bg\.wasm$/, "");
writeFileSync(join(dirname(args[0]), "..", `${name}.bundle-size.json`), JSON.stringify(report, null, 2) + "\n");
