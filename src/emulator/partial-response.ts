// Partial responses (performance guide, "fields"): a request may name the fields it wants, in
// Google's syntax (`items(id,status),nextPageToken`, `a/b`, `*`), and gets only those back; a
// list without `nextSyncToken` in its mask gets no token. The selection itself is json-mask,
// which implements that syntax; here we only reject masks that are not well-formed.

import mask from 'json-mask';
import { errors } from './errors.js';

const NAME = /^[A-Za-z0-9_*]+(\/[A-Za-z0-9_*]+)*$/;

/** Throws 400 `invalidParameter` (location `fields`) for a malformed mask. */
function checkSyntax(fields: string): void {
  let depth = 0;
  let token = '';
  const endToken = (): void => {
    if (!NAME.test(token.trim())) throw errors.invalidFields(fields);
    token = '';
  };
  for (let i = 0; i < fields.length; i++) {
    const c = fields[i]!;
    if (c === ',') {
      if (token !== '' || fields[i - 1] !== ')') endToken();
    } else if (c === '(') {
      endToken();
      depth++;
    } else if (c === ')') {
      if (depth === 0 || (token === '' && fields[i - 1] !== ')')) throw errors.invalidFields(fields);
      if (token !== '') endToken();
      depth--;
    } else token += c;
  }
  if (depth !== 0) throw errors.invalidFields(fields);
  if (token !== '' || fields[fields.length - 1] !== ')') endToken();
}

/** The response narrowed to `fields`; unchanged when the request named none. */
export function applyFields<T>(body: T, fields: unknown): T {
  if (fields === undefined) return body;
  const f = (Array.isArray(fields) ? fields.join(',') : String(fields)).replace(/\s+/g, '');
  checkSyntax(f);
  return (mask(body, f) ?? {}) as T;
}
