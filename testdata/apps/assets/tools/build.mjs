// Concatenates assets/*.css and assets/*.js into public/build/, stamping each
// output with a content hash in a manifest, as real bundlers do.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const src = 'assets';
const out = join('public', 'build');
mkdirSync(out, { recursive: true });
const manifest = {};
for (const ext of ['css', 'js']) {
  const files = readdirSync(src).filter((f) => f.endsWith('.' + ext)).sort();
  const body = files.map((f) => `/* ${f} */\n` + readFileSync(join(src, f), 'utf8')).join('\n');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  const name = `app.${hash}.${ext}`;
  writeFileSync(join(out, name), body);
  manifest[`app.${ext}`] = `/build/${name}`;
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log('built', Object.values(manifest).join(', '));
