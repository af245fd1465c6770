// The part of docs/BENCHMARKS.md that `npm run bench` rewrites: everything between the two marker
// comments is the latest run (machine, targets, figures, plots, profiles); the prose around it is
// written by hand and left alone.

export const START_MARKER = '<!-- bench:latest:start (written by npm run bench; edits inside are overwritten) -->';
export const END_MARKER = '<!-- bench:latest:end -->';

/**
 * `doc` with the text between the markers replaced by `body`. A document without the markers gets
 * them, with the body, after its first heading's paragraph block; markers out of order are an error,
 * so a hand edit that broke them is never silently duplicated.
 */
export function replaceLatestSection(doc: string, body: string): string {
  const section = `${START_MARKER}\n${body.trim()}\n${END_MARKER}`;
  const start = doc.indexOf(START_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (start === -1 && end === -1) {
    const firstSection = doc.search(/\n## /);
    return firstSection === -1 ? `${doc.trimEnd()}\n\n${section}\n` : `${doc.slice(0, firstSection).trimEnd()}\n\n${section}\n${doc.slice(firstSection)}`;
  }
  if (start === -1 || end === -1 || end < start || doc.indexOf(START_MARKER, start + 1) !== -1 || doc.indexOf(END_MARKER, end + 1) !== -1) {
    throw new Error('docs/BENCHMARKS.md: the bench:latest markers are missing, doubled or out of order; fix them by hand');
  }
  return doc.slice(0, start) + section + doc.slice(end + END_MARKER.length);
}
