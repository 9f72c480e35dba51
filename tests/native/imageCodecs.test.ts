// libpng and libjpeg are opened with dlopen at first use, never linked, so the add-on loads where they
// are missing (or where only another libjpeg ABI exists) and only that format fails, saying why.
// NETLENS_LIBPNG / NETLENS_LIBJPEG replace the sonames; pointing them at nothing simulates a machine
// without the library. They are read once per process, so each scenario runs in a child Node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { addonPath, repoRoot } from './support';

interface ImageFormat {
  format: string;
  compiledIn: boolean;
  available: boolean;
  library: string;
  problem?: string;
}
interface DataFormats {
  images: string[];
  imageFormats: ImageFormat[];
  gzip: boolean;
}
interface ChildReport {
  formats: DataFormats;
  engineVersion: string;
  idxCount: number;
  /** Per folder: the number of images read, or the error message. */
  folders: Record<string, number | string>;
}

const fixtures = path.join(repoRoot, 'tests', 'native', 'fixtures', 'data');

// Plain JavaScript for the child: loads the add-on, reports dataFormats(), then reads each folder.
const childScript = `
const [addon, fixtures, foldersJson] = process.argv.slice(1);
const module = { exports: {} };
process.dlopen(module, addon);
const { Dataset, dataFormats, engineInfo } = module.exports;
const idx = new Dataset({ kind: 'idx', paths: [fixtures + '/idx-images.gz', fixtures + '/idx-labels.gz'] });
const folders = {};
for (const [name, folder] of Object.entries(JSON.parse(foldersJson))) {
  try {
    folders[name] = new Dataset({ kind: 'folder', paths: [folder] }).info().count;
  } catch (error) {
    folders[name] = String(error.message);
  }
}
process.stdout.write(JSON.stringify({ formats: dataFormats(), engineVersion: engineInfo().version, idxCount: idx.info().count, folders }));
`;

function runChild(overrides: Record<string, string>, folders: Record<string, string>): ChildReport {
  const env: NodeJS.ProcessEnv = { ...process.env, ...overrides };
  const result = spawnSync(process.execPath, ['-e', childScript, path.resolve(addonPath()), fixtures, JSON.stringify(folders)], {
    env,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `child failed: ${result.stderr}${result.error?.message ?? ''}`);
  return JSON.parse(result.stdout) as ChildReport;
}

/** One class folder holding a single copy of a fixture image. */
function singleImageFolder(scratch: string, name: string, fixture: string): string {
  const root = path.join(scratch, name);
  fs.mkdirSync(path.join(root, 'a'), { recursive: true });
  fs.copyFileSync(path.join(fixtures, 'folder', fixture), path.join(root, 'a', path.basename(fixture)));
  return root;
}

function format(formats: DataFormats, name: string): ImageFormat {
  const found = formats.imageFormats.find((entry) => entry.format === name);
  assert.ok(found, `dataFormats().imageFormats has ${name}`);
  return found;
}

function withScratch(body: (scratch: string) => void): void {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-codecs-'));
  try {
    body(scratch);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

test('netlens.node neither needs libpng/libjpeg nor leaves their symbols to the loader', { skip: process.platform !== 'linux' }, () => {
  const dynamic = spawnSync('readelf', ['--dynamic', '--wide', addonPath()], { encoding: 'utf8' });
  assert.equal(dynamic.status, 0, dynamic.stderr);
  const needed = [...dynamic.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((match) => match[1] ?? '');
  assert.ok(needed.length > 0, 'readelf lists the NEEDED libraries');
  assert.deepEqual(needed.filter((library) => /png|jpeg/i.test(library)), [], `NEEDED: ${needed.join(', ')}`);
  // An undefined png_*/jpeg_* symbol would mean a direct call slipped past the function pointers.
  const symbols = spawnSync('nm', ['--dynamic', '--undefined-only', addonPath()], { encoding: 'utf8' });
  assert.equal(symbols.status, 0, symbols.stderr);
  assert.deepEqual(symbols.stdout.split('\n').filter((line) => /\b(png|jpeg)_/.test(line)), []);
});

test('with the libraries present: both formats compiled in, available, and named', () => {
  const report = runChild({ NETLENS_LIBPNG: '', NETLENS_LIBJPEG: '' }, { folder: path.join(fixtures, 'folder') });
  assert.deepEqual([...report.formats.images].sort(), ['jpeg', 'png']);
  assert.deepEqual(format(report.formats, 'png'), { format: 'png', compiledIn: true, available: true, library: 'libpng16.so.16' });
  const jpeg = format(report.formats, 'jpeg');
  assert.equal(jpeg.available, true, jpeg.problem);
  assert.match(jpeg.library, /^libjpeg\.so\.(62|8|7|9)$/);
  assert.equal(report.folders['folder'], 6, 'the PNG+JPEG fixture folder reads');
});

test('without libpng or libjpeg the add-on still loads, reports why, and other formats work', () => {
  withScratch((scratch) => {
    const pngFolder = singleImageFolder(scratch, 'png-only', 'cats/0.png');
    const jpegFolder = singleImageFolder(scratch, 'jpeg-only', 'cats/flat.jpg');
    const report = runChild(
      { NETLENS_LIBPNG: '/nonexistent/libpng16.so.16', NETLENS_LIBJPEG: '/nonexistent/libjpeg.so' },
      { png: pngFolder, jpeg: jpegFolder },
    );
    assert.notEqual(report.engineVersion, '', 'engineInfo() works');
    assert.equal(report.idxCount, 6, 'gzip IDX (zlib) still reads');
    assert.equal(report.formats.gzip, true);
    assert.deepEqual(report.formats.images, [], 'no image format decodes');
    for (const name of ['png', 'jpeg']) {
      const entry = format(report.formats, name);
      assert.equal(entry.compiledIn, true, `${name} compiled in`);
      assert.equal(entry.available, false, `${name} unavailable`);
      assert.match(entry.problem ?? '', /cannot open shared object file.*apt-get install/);
    }
    assert.match(
      String(report.folders['png']),
      /png-only\/a\/0\.png: cannot read PNG: libpng16\.so\.16 is not usable \(NETLENS_LIBPNG is set: \/nonexistent\/libpng16\.so\.16: cannot open shared object file: No such file or directory\); install libpng 1\.6 \(Debian\/Ubuntu: apt-get install libpng16-16/,
    );
    assert.match(String(report.folders['jpeg']), /jpeg-only\/a\/flat\.jpg: cannot read JPEG: libjpeg\.so\.\d+ is not usable .*never opens another ABI; install it \(.*apt-get install libjpeg/);
  });
});

test('with only libpng missing, JPEG folders still decode', () => {
  withScratch((scratch) => {
    const jpegFolder = singleImageFolder(scratch, 'jpeg-only', 'cats/flat.jpg');
    const report = runChild({ NETLENS_LIBPNG: '/nonexistent/libpng16.so.16', NETLENS_LIBJPEG: '' }, { jpeg: jpegFolder, mixed: path.join(fixtures, 'folder') });
    assert.deepEqual(report.formats.images, ['jpeg']);
    assert.equal(report.folders['jpeg'], 1);
    assert.match(String(report.folders['mixed']), /cats\/0\.png: cannot read PNG: libpng16\.so\.16/);
  });
});
