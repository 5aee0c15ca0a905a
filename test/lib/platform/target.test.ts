import path from 'node:path';

import { expect } from 'chai';

import {
  defaultHome,
  describeTarget,
  resolveTarget,
  type TargetInput,
} from '../../../src/lib/platform/target.js';
import { thrownBy } from '../helpers/aws.js';

describe('resolveTarget', () => {
  const localHome = path.resolve(process.cwd(), '.saasctl');

  it('defaults to the local target, stage local, us-east-1 and ./.saasctl', () => {
    expect(resolveTarget({}, {})).to.deep.equal({
      name: 'local',
      stage: 'local',
      region: 'us-east-1',
      home: localHome,
    });
  });

  it('defaults the aws target to stage dev and no profile', () => {
    expect(resolveTarget({ target: 'aws' }, {})).to.deep.equal({
      name: 'aws',
      stage: 'dev',
      region: 'us-east-1',
      profile: undefined,
    });
  });

  it('takes target, stage, region and profile from the environment', () => {
    const env = {
      SAASCTL_TARGET: 'aws',
      SAASCTL_STAGE: 'prod',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'ap-south-1',
      AWS_PROFILE: 'ops',
    };
    expect(resolveTarget({}, env)).to.deep.equal({
      name: 'aws',
      stage: 'prod',
      region: 'eu-west-1',
      profile: 'ops',
    });
  });

  it('treats empty environment variables as unset', () => {
    const target = resolveTarget(
      {},
      { SAASCTL_TARGET: '', SAASCTL_STAGE: '', AWS_REGION: '', AWS_PROFILE: '' },
    );
    expect(target).to.include({ name: 'local', stage: 'local', region: 'us-east-1' });
    expect(resolveTarget({ target: 'aws' }, { AWS_PROFILE: '' }).profile).to.equal(undefined);
  });

  it('falls back to AWS_DEFAULT_REGION when AWS_REGION is unset', () => {
    expect(resolveTarget({}, { AWS_DEFAULT_REGION: 'ap-south-1' }).region).to.equal('ap-south-1');
  });

  it('lets flags win over the environment', () => {
    const env = {
      SAASCTL_TARGET: 'local',
      SAASCTL_STAGE: 'prod',
      AWS_REGION: 'eu-west-1',
      AWS_PROFILE: 'ops',
    };
    const input: TargetInput = { target: 'aws', stage: 'staging', region: 'eu-central-1', profile: 'admin' };
    expect(resolveTarget(input, env)).to.deep.equal({
      name: 'aws',
      stage: 'staging',
      region: 'eu-central-1',
      profile: 'admin',
    });
  });

  it('lets --target local win over SAASCTL_TARGET=aws', () => {
    expect(resolveTarget({ target: 'local' }, { SAASCTL_TARGET: 'aws' }).name).to.equal('local');
  });

  it('applies SAASCTL_STAGE to the local target too', () => {
    expect(resolveTarget({}, { SAASCTL_STAGE: 'demo' }).stage).to.equal('demo');
  });

  it('ignores AWS_PROFILE on the local target instead of refusing it', () => {
    const target = resolveTarget({}, { AWS_PROFILE: 'ops' });
    expect(target.name).to.equal('local');
    expect(target).not.to.have.property('profile');
  });

  it('puts the local home at SAASCTL_HOME, resolved against the working directory', () => {
    expect(resolveTarget({}, { SAASCTL_HOME: '/var/tmp/saasctl' }).home).to.equal('/var/tmp/saasctl');
    expect(resolveTarget({}, { SAASCTL_HOME: 'state' }).home).to.equal(path.resolve(process.cwd(), 'state'));
  });

  it('gives the aws target no home', () => {
    expect(resolveTarget({ target: 'aws' }, { SAASCTL_HOME: '/var/tmp/saasctl' })).not.to.have.property(
      'home',
    );
  });

  it('refuses an unknown target from a flag, naming the allowed targets', () => {
    const err = thrownBy(() => resolveTarget({ target: 'prod' }, {}));
    expect(err.code).to.equal('INVALID_TARGET');
    expect(err.exitCode).to.equal(2);
    expect(err.message).to.equal('Unknown target "prod": the target must be one of local, aws.');
  });

  it('refuses an unknown target from SAASCTL_TARGET', () => {
    const err = thrownBy(() => resolveTarget({}, { SAASCTL_TARGET: 'AWS' }));
    expect(err.code).to.equal('INVALID_TARGET');
    expect(err.exitCode).to.equal(2);
  });

  it('accepts a stage of 16 characters', () => {
    expect(resolveTarget({ stage: `s${'1'.repeat(15)}` }, {}).stage).to.have.length(16);
  });

  for (const stage of ['', 'Prod', '1dev', '-dev', 'dev_1', 'dev.1', `s${'1'.repeat(16)}`]) {
    it(`refuses the stage "${stage}" with the stage rule`, () => {
      const err = thrownBy(() => resolveTarget({ target: 'aws', stage }, {}));
      expect(err.code).to.equal('INVALID_STAGE');
      expect(err.exitCode).to.equal(2);
      expect(err.message).to.include(`Invalid stage "${stage}"`);
      expect(err.message).to.include('a stage is 1-16 characters, a lowercase letter first');
    });
  }

  it('refuses an invalid stage from SAASCTL_STAGE', () => {
    expect(thrownBy(() => resolveTarget({}, { SAASCTL_STAGE: 'Prod' })).code).to.equal('INVALID_STAGE');
  });

  it('accepts partition-style regions such as us-gov-west-1', () => {
    expect(resolveTarget({ region: 'us-gov-west-1' }, {}).region).to.equal('us-gov-west-1');
  });

  for (const region of ['useast1', 'US-EAST-1', 'us-east', 'us-east-12', 'eu_west_1']) {
    it(`refuses the region "${region}" with an example of a valid one`, () => {
      const err = thrownBy(() => resolveTarget({ region }, {}));
      expect(err.code).to.equal('INVALID_REGION');
      expect(err.exitCode).to.equal(2);
      expect(err.message).to.equal(
        `Invalid region "${region}": expected an AWS region name such as us-east-1.`,
      );
    });
  }

  it('refuses an invalid region from AWS_REGION', () => {
    expect(thrownBy(() => resolveTarget({}, { AWS_REGION: 'moon-1' })).code).to.equal('INVALID_REGION');
  });

  it('refuses --profile on the local target and says how to fix it', () => {
    const err = thrownBy(() => resolveTarget({ profile: 'ops' }, {}));
    expect(err.code).to.equal('PROFILE_ON_LOCAL');
    expect(err.exitCode).to.equal(2);
    expect(err.message).to.equal('--profile applies to the aws target only.');
    expect(err.actions).to.deep.equal(['Add --target aws, or drop --profile.']);
  });

  it('checks the target before the stage and the stage before the region', () => {
    expect(thrownBy(() => resolveTarget({ target: 'x', stage: 'X', region: 'x' }, {})).code).to.equal(
      'INVALID_TARGET',
    );
    expect(thrownBy(() => resolveTarget({ stage: 'X', region: 'x' }, {})).code).to.equal('INVALID_STAGE');
  });
});

describe('defaultHome', () => {
  it('is .saasctl under the given working directory unless SAASCTL_HOME is set', () => {
    expect(defaultHome({}, '/srv/app')).to.equal('/srv/app/.saasctl');
    expect(defaultHome({ SAASCTL_HOME: 'data' }, '/srv/app')).to.equal('/srv/app/data');
    expect(defaultHome({ SAASCTL_HOME: '' }, '/srv/app')).to.equal('/srv/app/.saasctl');
  });
});

describe('describeTarget', () => {
  it('names the local stack by its home', () => {
    expect(
      describeTarget({ name: 'local', stage: 'local', region: 'us-east-1', home: '/srv/.saasctl' }),
    ).to.equal('local stack (/srv/.saasctl)');
  });

  it('names the aws stage, region and profile when there is one', () => {
    expect(describeTarget({ name: 'aws', stage: 'prod', region: 'eu-west-1', profile: 'ops' })).to.equal(
      'aws (stage prod, eu-west-1, profile ops)',
    );
    expect(describeTarget({ name: 'aws', stage: 'prod', region: 'eu-west-1' })).to.equal(
      'aws (stage prod, eu-west-1)',
    );
  });
});
