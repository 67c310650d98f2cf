// Builds the dashboard into <outdir> (node build.mjs <outdir>): index.html, app.js, app.css
// and favicon.svg, the files the gateway embeds and serves at /ui/.
//
// Everything comes from web/src and the pinned packages in web/node_modules: the page loads
// nothing from anywhere else. The map of China is made here, not in the browser: China
// merged with Taiwan, Hong Kong and Macao from Natural Earth (world-atlas), projected once
// and shipped as an SVG path, so the browser never loads the world file. The browser gets
// the projection's parameters to place the centers on the same map.
import * as esbuild from 'esbuild';
import { geoConicEqualArea, geoGraticule, geoPath } from 'd3-geo';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { merge } from 'topojson-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, 'src');
const outdir = path.resolve(process.argv[2] ?? path.join(here, 'dist'));

// ISO 3166 numeric ids in world-atlas: China, Taiwan, Hong Kong, Macao.
const kChinaIds = new Set(['156', '158', '344', '446']);
// The map's own coordinate space (the SVG viewBox).
const kWidth = 1000;
const kHeight = 760;
const kMargin = 16;

function chinaOutline() {
  const require = createRequire(import.meta.url);
  const world = require('world-atlas/countries-50m.json');
  const parts = world.objects.countries.geometries.filter((g) => kChinaIds.has(g.id));
  if (parts.length !== kChinaIds.size) {
    const found = parts.map((g) => g.id);
    throw new Error(`world-atlas countries-50m: expected ids ${[...kChinaIds]}, found ${found}`);
  }
  const china = merge(world, parts);
  // An equal-area conic with standard parallels that bracket China, centred on 105E: the
  // usual choice for maps of the whole country.
  const projection = geoConicEqualArea()
    .parallels([25, 47])
    .rotate([-105, 0])
    .fitExtent([[kMargin, kMargin], [kWidth - kMargin, kHeight - kMargin]], china);
  // One decimal of a viewBox unit is far below a pixel: it keeps the path small.
  const outline = geoPath(projection).digits(1)(china);
  const graticule = geoPath(projection).digits(1)(
    geoGraticule().extent([[70, 14], [140.01, 56.01]]).step([10, 5])(),
  );
  return {
    width: kWidth,
    height: kHeight,
    parallels: projection.parallels(),
    rotate: projection.rotate(),
    scale: projection.scale(),
    translate: projection.translate(),
    outline,
    graticule,
  };
}

// `import map from 'edwc:china-map'` in the sources resolves to the outline made above.
function chinaMapPlugin(map) {
  return {
    name: 'edwc-china-map',
    setup(build) {
      build.onResolve({ filter: /^edwc:china-map$/ }, () => ({
        path: 'china-map',
        namespace: 'edwc',
      }));
      build.onLoad({ filter: /.*/, namespace: 'edwc' }, () => ({
        contents: `export default ${JSON.stringify(map)};`,
        loader: 'js',
      }));
    },
  };
}

async function main() {
  mkdirSync(outdir, { recursive: true });
  const common = {
    bundle: true,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    write: true,
  };
  await esbuild.build({
    ...common,
    entryPoints: [path.join(src, 'main.js')],
    outfile: path.join(outdir, 'app.js'),
    format: 'iife',
    target: 'es2020',
    plugins: [chinaMapPlugin(chinaOutline())],
  });
  await esbuild.build({
    ...common,
    entryPoints: [path.join(src, 'app.css')],
    outfile: path.join(outdir, 'app.css'),
  });
  for (const file of ['index.html', 'favicon.svg']) {
    writeFileSync(path.join(outdir, file), readFileSync(path.join(src, file)));
  }
}

main().catch((e) => {
  console.error(`web/build.mjs: ${e.stack ?? e}`);
  process.exit(1);
});
