import { HOUR_MS, hourOfDate } from './events.js';
import type { ParsedObject } from './lake-parse.js';
import type { MetricRegistry } from './metrics.js';

/**
 * The stream engine's (tenant, metric) pairs and cells (a pair in an hour), numbered 0, 1, 2, …
 * as they are first met, whichever parser met them. Pairs are looked up by name only when a
 * parser names a pair it has not named before, cells by number; events then carry numbers.
 */
export class CellTable {
  size = 0;
  /** By tenant, then metric: nested, since hashing a joined key costs more than two lookups. */
  private readonly pairs = new Map<string, Map<string, number>>();
  private readonly pairTenant: string[] = [];
  private readonly pairMetric: string[] = [];
  private readonly pairIsMax: boolean[] = [];
  /** By hour (hours since the epoch), then pair. */
  private readonly cells = new Map<number, Map<number, number>>();
  private cellPair = new Int32Array(1024);
  private readonly hourKeys = new Map<number, string>();
  /** Each cell's hour (epoch ms of its start) and whether its metric keeps the max. */
  hour = new Float64Array(1024);
  isMax = new Uint8Array(1024);

  constructor(private readonly registry: MetricRegistry) {}

  pairOf(tenantId: string, metric: string): number {
    let metrics = this.pairs.get(tenantId);
    if (!metrics) this.pairs.set(tenantId, (metrics = new Map<string, number>()));
    let pair = metrics.get(metric);
    if (pair === undefined) {
      pair = this.pairTenant.length;
      metrics.set(metric, pair);
      this.pairTenant.push(tenantId);
      this.pairMetric.push(metric);
      this.pairIsMax.push(this.registry.require(metric).aggregation === 'max');
    }
    return pair;
  }

  /** The cell of a pair (the table's number) in an hour (hours since the epoch). */
  cellOf(pair: number, hour: number): number {
    let byPair = this.cells.get(hour);
    if (!byPair) this.cells.set(hour, (byPair = new Map<number, number>()));
    let cell = byPair.get(pair);
    if (cell === undefined) {
      cell = this.size++;
      if (cell === this.hour.length) {
        this.hour = grow(this.hour, 2 * cell);
        this.isMax = grow(this.isMax, 2 * cell);
        this.cellPair = grow(this.cellPair, 2 * cell);
      }
      byPair.set(pair, cell);
      this.cellPair[cell] = pair;
      this.hour[cell] = hour * HOUR_MS;
      this.isMax[cell] = this.pairIsMax[pair] ? 1 : 0;
    }
    return cell;
  }

  /** The cell's tenant, metric and hour key (YYYY-MM-DDTHH). */
  name(cell: number): { tenantId: string; metric: string; hour: string } {
    const pair = this.cellPair[cell];
    const hour = this.hour[cell];
    let key = this.hourKeys.get(hour);
    if (key === undefined) this.hourKeys.set(hour, (key = hourOfDate(new Date(hour))));
    return { tenantId: this.pairTenant[pair], metric: this.pairMetric[pair], hour: key };
  }
}

/**
 * One parser's numbers in the table's: learns the pairs and cells the parser names with each
 * object and rewrites the object's cell column in place. Objects must come in the order the
 * parser made them (a worker's messages do).
 */
export class CellTranslator {
  private pairs = new Int32Array(1024);
  private knownPairs = 0;
  private cells = new Int32Array(1024);
  private knownCells = 0;

  constructor(private readonly table: CellTable) {}

  translate(parsed: ParsedObject): void {
    const names = parsed.names;
    if (names.firstPair !== this.knownPairs || names.firstCell !== this.knownCells) {
      throw new Error(
        `Lake parser names out of order: expected pair ${this.knownPairs} and cell ${this.knownCells} next, ` +
          `got ${names.firstPair} and ${names.firstCell}.`,
      );
    }
    for (let k = 0; k < names.tenants.length; k++) {
      if (this.knownPairs === this.pairs.length) this.pairs = grow(this.pairs, 2 * this.knownPairs);
      this.pairs[this.knownPairs++] = this.table.pairOf(names.tenants[k], names.metrics[k]);
    }
    for (let k = 0; k < names.cellPairs.length; k++) {
      const pair = names.cellPairs[k];
      if (!(pair < this.knownPairs)) throw new Error(`Lake parser sent pair ${pair} before naming it.`);
      if (this.knownCells === this.cells.length) this.cells = grow(this.cells, 2 * this.knownCells);
      this.cells[this.knownCells++] = this.table.cellOf(this.pairs[pair], names.cellHours[k]);
    }
    const { cell, count } = parsed;
    const cells = this.cells;
    const known = this.knownCells;
    for (let i = 0; i < count; i++) {
      const local = cell[i];
      if (local >= known) throw new Error(`Lake parser sent cell ${local} before naming it.`);
      cell[i] = cells[local];
    }
  }
}

function grow<T extends Float64Array | Uint8Array | Int32Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}
