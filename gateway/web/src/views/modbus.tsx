// The Modbus tab, in the order a tech works: what is configured and how it is doing, find the units
// on a line, read one to check the values and the word order, add it as a device (from a template).
import { useState } from 'preact/hooks';
import { Buses } from './modbus-buses';
import { DeviceEditor } from './modbus-device';
import { TestRead, type Choice } from './modbus-read';
import { Scan } from './modbus-scan';
import type { Draft, Target } from './modbus-types';

export function Modbus() {
  const [target, setTarget] = useState<Target | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [picking, setPicking] = useState<{ g: number; t: number } | null>(null);

  const pickedTag = picking && draft ? draft.tagGroups[picking.g]?.tags[picking.t] : undefined;

  // A value chosen in the test read goes into the tag being edited: its address, function, type and order.
  const choose = (c: Choice): void => {
    if (!draft || !picking || !pickedTag) return;
    setDraft({
      ...draft,
      tagGroups: draft.tagGroups.map((g, gi) =>
        gi !== picking.g ? g : { ...g, tags: g.tags.map((t, ti) => (ti !== picking.t ? t : { ...t, function: c.fn, address: c.address, type: c.type, byteOrder: c.byteOrder })) },
      ),
    });
    setPicking(null);
  };

  return (
    <div class="modbus">
      <div class="title-row">
        <h1>Modbus</h1>
      </div>
      <Buses onSelect={setTarget} />
      <Scan onSelect={setTarget} selected={target} />
      <div class="stacked">
        <TestRead target={target} onChoose={choose} pickingFor={pickedTag ? pickedTag.metric : null} />
        <DeviceEditor target={target} draft={draft} setDraft={setDraft} picking={picking} setPicking={setPicking} />
      </div>
    </div>
  );
}
