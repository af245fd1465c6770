// The benches start the gateway with DEPLOYED_GATEWAY_ENV so their memory figures are a deployed
// gateway's: the systemd unit and the balena image must set exactly those Node options.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { DEPLOYED_GATEWAY_ENV } from '../../devstack/gateway-child.js';
import { repoRoot } from '../../devstack/net.js';

it('the systemd unit and the balena image run the gateway with the NODE_OPTIONS the benches measure it with', () => {
  const options = DEPLOYED_GATEWAY_ENV['NODE_OPTIONS'];
  assert.ok(options);
  const unit = readFileSync(join(repoRoot(), 'deploy', 'systemd', 'fieldline-gateway.service'), 'utf8');
  assert.deepEqual(unit.match(/^Environment=NODE_OPTIONS=(.*)$/gm), [`Environment=NODE_OPTIONS=${options}`]);
  const image = readFileSync(join(repoRoot(), 'deploy', 'balena', 'Dockerfile.template'), 'utf8');
  assert.deepEqual(image.match(/^ENV NODE_OPTIONS=(.*)$/gm), [`ENV NODE_OPTIONS=${options}`]);
});
