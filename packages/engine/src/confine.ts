/** What files a rule set may name, checked on the text of the paths; the errors a list loader throws. */
import { dirname, isAbsolute, join, normalize, posix, relative, sep, win32 } from "node:path";
import type { DiagnosticCode } from "@clearance/dsl";

/** Why a file of the rule set is refused: becomes a diagnostic at the place that named it. */
export interface FileProblem {
  code: DiagnosticCode;
  message: string;
  help: string;
}

/** `path` relative to `root`, with `/` separators: how the revision names a file. */
export function revisionPath(root: string | undefined, path: string): string {
  const rel = root === undefined ? normalize(path) : relative(root, path);
  return sep === "/" ? rel : rel.split(sep).join("/");
}

/** Whether `path` lies inside `root` (or is it); both absolute, or both relative to one place. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`));
}

/**
 * Where a list file named `written` in the rule file `declaredIn` is: relative to the declaring
 * file, and lexically inside `root` (the rule directory; without one, the declaring file's own
 * directory). Symlinks are the loader's concern: this looks at the text only.
 */
export function listFilePath(
  root: string | undefined,
  declaredIn: string,
  written: string,
): { file: string } | { problem: FileProblem } {
  if (isAbsolute(written) || posix.isAbsolute(written) || win32.isAbsolute(written))
    return {
      problem: {
        code: "list_path_absolute",
        message: `list file path \`${written}\` is absolute`,
        help: "name the file relative to the rule file that declares it, inside the rule directory: `lists/names.txt`",
      },
    };
  const file = join(dirname(declaredIn), written);
  if (!isInside(root ?? dirname(declaredIn), file))
    return {
      problem: {
        code: "path_outside_root",
        message: `list file \`${written}\` is outside the rule directory`,
        help: "move the list file into the rule directory and name it relative to the rule file",
      },
    };
  return { file };
}

/** Thrown by a `loadList` to refuse a list file with a diagnostic of its own. */
export class ListFileError extends Error {
  override name = "ListFileError";
  constructor(readonly problem: FileProblem) {
    super(problem.message);
  }
}

/**
 * Thrown by a `loadList` when the file holds more than the request's `maxBytes`; the compiler
 * names the limit that was reached (`maxListFileBytes` or `maxRulesetBytes`).
 */
export class ListFileTooLarge extends Error {
  override name = "ListFileTooLarge";
  constructor(readonly file: string) {
    super(`list file \`${file}\` is too large`);
  }
}
