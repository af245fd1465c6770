// Recognising a QoS 1 PUBLISH the gateway has already committed, so that the device's resend is
// acknowledged without storing the reading twice. The outbox keeps the keys made here without
// reading them (MessageKey, outbox/sent-keys.ts); what a key is made of and when a message counts
// as a resend are MQTT's rules and live here.
//
// A QoS 1 PUBLISH whose PUBACK never reached the device (the gateway died after the commit, or the
// connection dropped) comes again on the next connection with the same packet id and DUP=1
// [MQTT-4.4.0-1, MQTT-3.3.1-1]; it is a resend only if it is the message last committed under that
// client and packet id. A first send (DUP=0) is stored: after a PUBACK the packet id is free for a
// new message [MQTT-4.3.2-2]. The exception covers clients that resend without DUP (MQTT.js 5
// does): after a gateway restart, a client's first messages that match one committed in the
// RESEND_WINDOW_MS before it are taken as resends, until the client sends anything else.
import type { PublishPacket } from 'aedes';
import type { KeyLookup, MessageKey, ResendScreen, StoredKey } from '../../outbox/outbox.js';
// The outbox's own hex form of a digest, so a screened digest compares equal to KeyLookup's answer.
import { hex } from '../../outbox/sent-keys.js';

/**
 * After a restart, messages committed in the last RESEND_WINDOW_MS before the newest one in the
 * outbox may never have had their PUBACK; those are the restart candidates.
 */
export const RESEND_WINDOW_MS = 30_000;

/** The key of a QoS 1 PUBLISH: client id and packet id, the pair a resend repeats. */
export function mqttKey(clientId: string, packetId: number): string {
  return `${clientId}\u0000${packetId}`;
}

/** The client id part of a key (mqttKey). */
function clientOf(key: string): string {
  const cut = key.lastIndexOf('\u0000');
  return cut < 0 ? key : key.slice(0, cut);
}

/** What the adapter attaches to a QoS 1 PUBLISH for the outbox; only called for one that has its packet id. */
export function redeliveryOf(clientId: string, packet: PublishPacket, payload: Buffer): MessageKey {
  return { key: mqttKey(clientId, packet.messageId!), digest: fingerprint(packet.topic, payload), resend: packet.dup === true };
}

/**
 * 64 bits over topic and payload, two 32-bit multiplicative lanes (FNV-1a and MurmurHash2's
 * constant). It only tells a resend from another message under the same client and packet id, so
 * it needs no cryptographic strength; SHA-256 cost a tenth of the ingest rate. Outbox files keep
 * these bytes, so changing the function makes resends of messages committed before the change go
 * unrecognised.
 */
export function fingerprint(topic: string, payload: Buffer): Buffer {
  let a = 0x811c9dc5;
  let b = 0x5bd1e995;
  const mix = (byte: number) => {
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995);
    b ^= b >>> 15;
  };
  for (let i = 0; i < topic.length; i++) mix(topic.charCodeAt(i) & 0xff);
  mix(0);
  // Indexed: a Buffer's iterator cost a third of the function.
  for (let i = 0; i < payload.length; i++) mix(payload[i]!);
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(a, 0);
  out.writeInt32BE(b, 4);
  return out;
}

/** The outbox's ResendScreen for MQTT keys; one per outbox, loaded when it opens. */
export class MqttResendScreen implements ResendScreen {
  /**
   * Client → (key → hex digest) of the messages committed in the outbox's last RESEND_WINDOW_MS.
   * A client's entries go when it sends a message that matches none of them (it is past its
   * resends); each entry matches once.
   */
  private candidates = new Map<string, Map<string, string>>();

  /** The window is measured back from the newest key, not from now: the gateway may have been down for long. */
  load(stored: readonly StoredKey[]): void {
    this.candidates = new Map();
    let newest = 0;
    for (const k of stored) newest = Math.max(newest, k.receivedMs ?? 0);
    for (const k of stored) {
      if (k.receivedMs === null || k.receivedMs < newest - RESEND_WINDOW_MS) continue;
      const client = clientOf(k.key);
      const mine = this.candidates.get(client) ?? new Map<string, string>();
      mine.set(k.key, k.digest);
      this.candidates.set(client, mine);
    }
  }

  /**
   * A resend is:
   * - with DUP=1, a message whose key and digest match the last message committed under that key,
   *   earlier in this group included;
   * - with DUP=0, one that matches a restart candidate of its client by key and digest, while that
   *   client has sent nothing else since the restart.
   * Only what commits changes the candidates (committed()), so a group-local view of them is kept.
   */
  screen(group: readonly MessageKey[], known: KeyLookup): boolean[] {
    // Digests as bytes until one is compared: nearly every message is a first send (DUP=0) with no
    // restart candidates, and making hex of each one's digest showed in the ingest profile.
    const inGroup = new Map<string, Uint8Array>();
    const usedInGroup = new Set<string>();
    const doneInGroup = new Set<string>();
    return group.map(({ key, digest: bytes, resend: dup }) => {
      if (dup) {
        const earlier = inGroup.get(key);
        if (earlier ? Buffer.from(earlier.buffer, earlier.byteOffset, earlier.byteLength).equals(bytes) : known.lastDigest(key) === hex(bytes)) return true;
      } else if (this.candidates.size > 0) {
        const client = clientOf(key);
        const mine = doneInGroup.has(client) ? undefined : this.candidates.get(client);
        if (mine && !usedInGroup.has(key) && mine.get(key) === hex(bytes)) {
          usedInGroup.add(key);
          return true;
        }
        doneInGroup.add(client);
      }
      inGroup.set(key, bytes);
      return false;
    });
  }

  /**
   * A message committed after its connection was gone, so its PUBACK could not go out (the commit's
   * fsync runs off the event loop, and the connection may close while it runs): the client sends it
   * again on its next connection, MQTT.js 5 without DUP, so it is a candidate as after a restart.
   */
  unacknowledged(message: MessageKey): void {
    const client = clientOf(message.key);
    const mine = this.candidates.get(client) ?? new Map<string, string>();
    mine.set(message.key, hex(message.digest));
    this.candidates.set(client, mine);
  }

  /** The candidates a committed group matched are used up, and a client that sent something new has none left. */
  committed(group: readonly MessageKey[], resends: readonly boolean[]): void {
    if (this.candidates.size === 0) return;
    group.forEach(({ key, resend: dup }, i) => {
      if (dup) return;
      const client = clientOf(key);
      const mine = this.candidates.get(client);
      if (!mine) return;
      // Without DUP, a resend is a matched restart candidate.
      if (resends[i]) mine.delete(key);
      if (!resends[i] || mine.size === 0) this.candidates.delete(client);
    });
  }
}
