// Checks of the paths a command will write, made before any long work starts (a training run, a pull from the
// edge): a file where a folder is wanted, or a folder that does not exist, is one sentence and exit 2, not a
// Node ENOTDIR / EEXIST / ENOENT stack trace minutes later.
import { statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './args.ts';

/** The path's stats, or null when nothing is there (or a file stands where a folder above it should be). */
function statOf(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * Refuses, in one sentence, a folder flag that cannot be used: the path is a file, or a file stands where one of
 * the folders above it would be created. A path that does not exist yet is fine (the command creates it).
 * @example outputFolder(values.out, '--out'); // before loading the dataset
 */
export function outputFolder(dir: string, flag: string): void {
  const stats = statOf(dir);
  if (stats) {
    if (!stats.isDirectory())
      throw new UsageError(`${flag} ${dir} is a file, not a folder: pass a folder (it is created if missing).`);
    return;
  }
  for (let above = dirname(resolve(dir)); ; above = dirname(above)) {
    const s = statOf(above);
    if (s && !s.isDirectory()) throw new UsageError(`${flag} ${dir} cannot be created: ${above} is a file.`);
    if (s || dirname(above) === above) return;
  }
}

/**
 * Refuses, in one sentence, a file flag that cannot be written: its folder does not exist (or is a file), or the
 * path is a folder.
 * @example outputFile(values.example, '--example'); // before writing the example rows
 */
export function outputFile(file: string, flag: string): void {
  if (statOf(file)?.isDirectory()) throw new UsageError(`${flag} ${file} is a folder: pass a file name.`);
  const folder = dirname(resolve(file));
  const s = statOf(folder);
  if (!s) throw new UsageError(`cannot write ${flag} ${file}: the folder ${dirname(file)} does not exist.`);
  if (!s.isDirectory()) throw new UsageError(`cannot write ${flag} ${file}: ${dirname(file)} is a file.`);
}
