// Building blocks every API schema module shares (re-exported by api-schemas.ts).
import { type TSchema, Type } from '@sinclair/typebox';

/** Every API error body: the catalogue code and a human message. */
export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'ErrorBody' },
);

export const ERROR_RESPONSES = {
  400: Type.Ref('ErrorBody'),
  401: Type.Ref('ErrorBody'),
  403: Type.Ref('ErrorBody'),
  404: Type.Ref('ErrorBody'),
  429: Type.Ref('ErrorBody'),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) });
}

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const Key = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });
export const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
export const Laterality = Type.Union([Type.Literal('L'), Type.Literal('R'), Type.Literal('U')]);
