/**
 * The sample documents API (create, get, list, delete; issue 7): one function per operation
 * (SAASCTL_DOCUMENTS_OPERATION), behind the HTTP API's authorizer, touching data only with the
 * tenant-scoped credentials the authorizer vends (requestContext.authorizer.lambda) and, for
 * the collection kept in PostgreSQL, through the app role inside a tenant transaction.
 *
 * GAP: the documents handler logic is not in src/lib yet (src/lib/runtime has no documents
 * module at the time of writing). The infra deploys the functions, routes, VPC access and
 * secrets it needs; until the module lands, every request fails with 501 rather than
 * pretending to serve. Wire it here: parse the event, call the src/lib function, map its
 * result and SaasctlError codes to HTTP.
 */
interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export async function handler(): Promise<HttpResponse> {
  return {
    statusCode: 501,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      code: 'NOT_IMPLEMENTED',
      message: `The documents API (${process.env.SAASCTL_DOCUMENTS_OPERATION ?? 'unknown'}) is not wired to its src/lib logic yet.`,
    }),
  };
}
