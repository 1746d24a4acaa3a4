// Writes precompressed siblings (.br and .gz) next to the text files of the build, which kiln
// serves to browsers that accept them. Node's own zlib does it: no package needed.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = new URL('../dist/', import.meta.url).pathname;
const compressible = /\.(html|js|css|svg|json)$/;

function* files(directory) {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (compressible.test(entry.name)) yield path;
  }
}

for (const path of files(root)) {
  const contents = readFileSync(path);
  writeFileSync(
    `${path}.br`,
    brotliCompressSync(contents, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: contents.length,
      },
    }),
  );
  writeFileSync(`${path}.gz`, gzipSync(contents, { level: 9 }));
}
