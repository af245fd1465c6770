// One error vocabulary for every package (CONVENTIONS.md, point 4): each package defines its own
// catalogue of FL_ERR_<AREA>_<WHAT> codes with defineCatalogue and throws the error class it returns,
// and everything that catches only needs `instanceof FieldlineError` to read `code` and `statusCode`.
// docs/ERRORS.md is generated from the catalogues (scripts/gen-errors-doc.mjs).

export interface CatalogueEntry {
  /** The HTTP status an API answers with; errors that never reach HTTP still carry the closest one. */
  readonly status: number;
  /** The start of every message with this code; the thrower adds the detail. */
  readonly message: string;
}

/**
 * A code the type checker accepts: FL_ERR_, an upper-case area, `_`, an upper-case what. The template
 * cannot refuse everything (an empty part, a space), so defineCatalogue checks CODE_NAME as well:
 * words of A-Z and 0-9 (LZ4), the area starting with a letter, one `_` between words.
 */
export type CodeName = `FL_ERR_${Uppercase<string>}_${Uppercase<string>}`;
export const CODE_NAME = /^FL_ERR_[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/** The body of an API error answer (DESIGN.md, "Cloud API"). */
export interface ErrorBody {
  error: { code: string; message: string };
}

export class FieldlineError extends Error {
  readonly code: string;
  readonly statusCode: number;

  /** Protected: throw a catalogue's own class, so the type checker knows the code is that package's. */
  protected constructor(code: string, entry: CatalogueEntry, detail?: string, options?: ErrorOptions) {
    super(composeMessage(entry.message, detail), options);
    this.name = new.target.name;
    this.code = code;
    this.statusCode = entry.status;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/**
 * "catalogued message: detail". A detail that starts with a line break (a list, one item a line)
 * follows the colon directly, so no line ends in a space.
 */
export function composeMessage(message: string, detail?: string): string {
  if (!detail) return message;
  return detail.startsWith('\n') ? `${message}:${detail}` : `${message}: ${detail}`;
}

/** The class a catalogue's errors are made with; `code` accepts only that catalogue's codes. */
export interface CatalogueErrorClass<C extends string> {
  new (code: C, detail?: string, options?: ErrorOptions): FieldlineError & { readonly code: C };
}

/**
 * Checks the codes and returns the catalogue unchanged (so `catalogue[code].status` reads as before)
 * and a class to extend: `export class GatewayError extends gateway.ErrorClass {}`. The subclass's
 * own name becomes the errors' `name`.
 */
export function defineCatalogue<T extends Record<CodeName, CatalogueEntry>>(
  // A key that is not a CodeName meets `never` here, so tsc points at the offending line.
  entries: T & Record<Exclude<keyof T, CodeName>, never>,
): { catalogue: Readonly<T>; ErrorClass: CatalogueErrorClass<keyof T & string> } {
  for (const [code, entry] of Object.entries(entries) as [string, CatalogueEntry][]) {
    if (!CODE_NAME.test(code)) throw new TypeError(`error code ${code} is not named FL_ERR_<AREA>_<WHAT>`);
    if (!Number.isInteger(entry.status) || entry.status < 400 || entry.status > 599) {
      throw new TypeError(`error code ${code}: status ${entry.status} is not an HTTP error status`);
    }
  }
  const catalogue = Object.freeze(entries) as Readonly<T>;
  const ErrorClass = class extends FieldlineError {
    declare readonly code: keyof T & string;
    constructor(code: keyof T & string, detail?: string, options?: ErrorOptions) {
      const entry = (catalogue as Record<string, CatalogueEntry | undefined>)[code];
      if (!entry) throw new TypeError(`${code} is not a code of this catalogue`);
      super(code, entry, detail, options);
    }
  };
  return { catalogue, ErrorClass };
}
