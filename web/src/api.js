// Calls to the gateway's api, same origin, with the bearer token. Errors come back as
// ApiError with the HTTP status (0 when the gateway did not answer) and the gateway's
// error code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function getJson(path, token) {
  let response;
  try {
    response = await fetch(path, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `the gateway did not answer (${e.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A body that is not JSON: reported below by status alone.
  }
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? `http_${response.status}`,
      error.message ?? (response.statusText || `HTTP ${response.status}`),
    );
  }
  return body;
}
