// The benches start the gateway with DEPLOYED_GATEWAY_ENV so their memory figures are a deployed
// gateway's: the systemd unit and the balena image must set exactly that environment (the Node
// options and the allocator's arena cap), each variable once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { DEPLOYED_GATEWAY_ENV } from '../../devstack/gateway-child.js';
import { repoRoot } from '../../devstack/net.js';

it('the systemd unit and the balena image run the gateway with the environment the benches measure it with (NODE_OPTIONS, MALLOC_ARENA_MAX)', () => {
  assert.ok(DEPLOYED_GATEWAY_ENV['NODE_OPTIONS']);
  assert.ok(DEPLOYED_GATEWAY_ENV['MALLOC_ARENA_MAX']);
  const unit = readFileSync(join(repoRoot(), 'deploy', 'systemd', 'fieldline-gateway.service'), 'utf8');
  const image = readFileSync(join(repoRoot(), 'deploy', 'balena', 'Dockerfile.template'), 'utf8');
  for (const [name, value] of Object.entries(DEPLOYED_GATEWAY_ENV)) {
    assert.deepEqual(unit.match(new RegExp(`^Environment=${name}=(.*)$`, 'gm')), [`Environment=${name}=${value}`], `systemd ${name}`);
    assert.deepEqual(image.match(new RegExp(`^ENV ${name}=(.*)$`, 'gm')), [`ENV ${name}=${value}`], `balena ${name}`);
  }
  // Nothing set in a deploy file that the benches do not also set.
  const names = (text: string, prefix: string): string[] =>
    [...text.matchAll(new RegExp(`^${prefix}(NODE_OPTIONS|MALLOC_\\w+|UV_\\w+|GLIBC_TUNABLES)=`, 'gm'))].map((m) => m[1]!).sort();
  assert.deepEqual(names(unit, 'Environment='), Object.keys(DEPLOYED_GATEWAY_ENV).sort());
  assert.deepEqual(names(image, 'ENV '), Object.keys(DEPLOYED_GATEWAY_ENV).sort());
});
