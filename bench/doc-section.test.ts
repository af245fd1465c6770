import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { END_MARKER, START_MARKER, replaceLatestSection } from './doc-section.js';

describe('replaceLatestSection', () => {
  it('replaces only what lies between the markers, keeping the prose on both sides', () => {
    const doc = `# B\n\nintro\n\n${START_MARKER}\nold run\n${END_MARKER}\n\n## Method\n\ntext\n`;
    const out = replaceLatestSection(doc, 'new run');
    assert.equal(out, `# B\n\nintro\n\n${START_MARKER}\nnew run\n${END_MARKER}\n\n## Method\n\ntext\n`);
    assert.equal(replaceLatestSection(out, 'new run'), out, 'writing the same run twice changes nothing');
  });

  it('puts the section before the first ## heading of a document that has no markers yet', () => {
    const out = replaceLatestSection('# B\n\nintro\n\n## Method\n\ntext\n', 'run');
    assert.equal(out, `# B\n\nintro\n\n${START_MARKER}\nrun\n${END_MARKER}\n\n## Method\n\ntext\n`);
  });

  it('refuses a document whose markers a hand edit broke', () => {
    assert.throws(() => replaceLatestSection(`${END_MARKER}\nx\n${START_MARKER}\n`, 'run'), /out of order/);
    assert.throws(() => replaceLatestSection(`${START_MARKER}\nx\n`, 'run'), /missing/);
    assert.throws(() => replaceLatestSection(`${START_MARKER}\n${START_MARKER}\n${END_MARKER}`, 'run'), /doubled/);
  });
});
