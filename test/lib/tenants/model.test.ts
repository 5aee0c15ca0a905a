import { expect } from 'chai';

import {
  assertDisplayName,
  assertEmail,
  assertPlanPrice,
  assertReason,
  assertTenantId,
  RESERVED_TENANT_IDS,
  TENANT_ID_RULE,
  tenantIdProblem,
} from '../../../src/lib/tenants/model.js';
import { thrownBy } from '../helpers/aws.js';

describe('tenant model rules', () => {
  describe('tenant id', () => {
    const valid = ['acme', 'a1b', '123', 'acme-corp', 'a-b-c', 'a'.repeat(32)];
    for (const id of valid) {
      it(`accepts "${id}"`, () => {
        expect(tenantIdProblem(id)).to.equal(undefined);
        expect(assertTenantId(id)).to.equal(id);
      });
    }

    const invalid: { id: string; why: string; problem: string }[] = [
      { id: '', why: 'empty', problem: 'it is 0 characters long (3-32 allowed)' },
      { id: 'ab', why: '2 characters', problem: 'it is 2 characters long (3-32 allowed)' },
      { id: 'a'.repeat(33), why: '33 characters', problem: 'it is 33 characters long (3-32 allowed)' },
      { id: 'Acme', why: 'uppercase', problem: 'may hold only lowercase letters, digits and hyphens' },
      {
        id: 'acme_corp',
        why: 'an underscore',
        problem: 'may hold only lowercase letters, digits and hyphens',
      },
      { id: 'acme corp', why: 'a space', problem: 'may hold only lowercase letters, digits and hyphens' },
      {
        id: 'acmé',
        why: 'a non-ASCII letter',
        problem: 'may hold only lowercase letters, digits and hyphens',
      },
      { id: '-acme', why: 'a leading hyphen', problem: 'must start and end with a letter or digit' },
      { id: 'acme-', why: 'a trailing hyphen', problem: 'must start and end with a letter or digit' },
      { id: 'ac--me', why: '"--"', problem: 'it contains "--"' },
      { id: 'admin', why: 'reserved word admin', problem: '"admin" is a reserved word' },
      { id: 'tenant', why: 'reserved word tenant', problem: '"tenant" is a reserved word' },
    ];
    for (const { id, why, problem } of invalid) {
      it(`refuses an id with ${why} as a usage error that names the rule`, () => {
        expect(tenantIdProblem(id)).to.include(problem);
        const err = thrownBy(() => assertTenantId(id));
        expect(err.code).to.equal('INVALID_TENANT_ID');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include(`Invalid tenant id "${id}"`);
        expect(err.message).to.include(problem);
        expect(err.message).to.include(`Rule: ${TENANT_ID_RULE}.`);
      });
    }

    it('refuses every reserved word', () => {
      expect(RESERVED_TENANT_IDS.size).to.be.greaterThan(0);
      for (const word of RESERVED_TENANT_IDS) {
        expect(tenantIdProblem(word), word).to.equal(`"${word}" is a reserved word`);
      }
    });

    it('accepts ids that merely contain a reserved word', () => {
      expect(tenantIdProblem('admin-team')).to.equal(undefined);
      expect(tenantIdProblem('acme-test')).to.equal(undefined);
    });
  });

  describe('email', () => {
    it('accepts a plain address and returns it lowercased', () => {
      expect(assertEmail('ops@acme.example')).to.equal('ops@acme.example');
      expect(assertEmail('Ops.Team+Billing@Acme.Example')).to.equal('ops.team+billing@acme.example');
      expect(assertEmail('it@sub.acme.co.uk')).to.equal('it@sub.acme.co.uk');
    });

    it('accepts an address of exactly 254 characters with a 64-character local part', () => {
      const address = `${'l'.repeat(64)}@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(61)}`;
      expect(address).to.have.length(254);
      expect(assertEmail(address)).to.equal(address);
    });

    const invalid: { email: string; why: string }[] = [
      { email: '', why: 'nothing' },
      { email: 'ops', why: 'no @' },
      { email: 'ops@acme', why: 'an undotted domain' },
      { email: 'ops@@acme.example', why: 'two @' },
      { email: '@acme.example', why: 'an empty local part' },
      { email: 'ops team@acme.example', why: 'a space' },
      { email: 'ops@-acme.example', why: 'a domain label starting with a hyphen' },
      { email: 'ops@acme-.example', why: 'a domain label ending with a hyphen' },
      { email: `${'l'.repeat(65)}@acme.example`, why: 'a 65-character local part' },
      {
        email: `${'l'.repeat(64)}@${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(62)}`,
        why: '255 characters',
      },
    ];
    for (const { email, why } of invalid) {
      it(`refuses an address with ${why}`, () => {
        const err = thrownBy(() => assertEmail(email));
        expect(err.code).to.equal('INVALID_EMAIL');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include(`Invalid email address "${email}"`);
        expect(err.message).to.include('local-part@domain');
      });
    }
  });

  describe('display name', () => {
    it('trims surrounding whitespace', () => {
      expect(assertDisplayName('  Acme Corp \t')).to.equal('Acme Corp');
    });

    it('accepts 128 characters and non-Latin scripts', () => {
      expect(assertDisplayName('n'.repeat(128))).to.have.length(128);
      expect(assertDisplayName('Société Générale – 日本')).to.equal('Société Générale – 日本');
    });

    const invalid: { name: string; why: string }[] = [
      { name: '', why: 'an empty name' },
      { name: '   ', why: 'a blank name' },
      { name: 'n'.repeat(129), why: 'a 129-character name' },
      { name: 'Acme\nCorp', why: 'a newline inside' },
      { name: 'Acme\u0007', why: 'a control character' },
    ];
    for (const { name, why } of invalid) {
      it(`refuses ${why}`, () => {
        const err = thrownBy(() => assertDisplayName(name));
        expect(err.code).to.equal('INVALID_NAME');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include('a name is 1-128 printable characters');
        expect(err.message).to.include(JSON.stringify(name));
      });
    }
  });

  describe('plan price', () => {
    for (const price of [0, 49, 290.5, 12.25, 19.99, 0.07, 1.15, 4.35, 10_000_000]) {
      it(`accepts ${price}`, () => {
        expect(assertPlanPrice(price)).to.equal(price);
      });
    }

    const invalid: { price: number; why: string }[] = [
      { price: -1, why: 'a negative price' },
      { price: Number.NaN, why: 'NaN' },
      { price: Number.POSITIVE_INFINITY, why: 'infinity' },
      { price: 10_000_001, why: 'a price above 10,000,000' },
      { price: 1.234, why: 'three decimals' },
    ];
    for (const { price, why } of invalid) {
      it(`refuses ${why}`, () => {
        const err = thrownBy(() => assertPlanPrice(price));
        expect(err.code).to.equal('INVALID_PLAN_PRICE');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.include(`Invalid plan price ${price}`);
        expect(err.message).to.include('at most two decimals');
      });
    }
  });

  describe('reason', () => {
    it('trims the reason and accepts 3 to 512 characters', () => {
      expect(assertReason('  nonpayment  ')).to.equal('nonpayment');
      expect(assertReason('abc')).to.equal('abc');
      expect(assertReason('r'.repeat(512))).to.have.length(512);
    });

    for (const { reason, why } of [
      { reason: 'ok', why: 'two characters' },
      { reason: '  ok  ', why: 'two characters once trimmed' },
      { reason: '', why: 'an empty reason' },
      { reason: 'r'.repeat(513), why: '513 characters' },
    ]) {
      it(`refuses ${why}`, () => {
        const err = thrownBy(() => assertReason(reason));
        expect(err.code).to.equal('INVALID_REASON');
        expect(err.exitCode).to.equal(2);
        expect(err.message).to.equal('A reason is 3-512 characters: say why, for the audit trail.');
      });
    }
  });
});
