// `minid login` and `minid logout`: credentials for a registry, checked against it before they
// are saved (mode 0600) in minid's auth file, in docker's config.json format. Like docker:
// no REGISTRY means Docker Hub; a failure is one line and exit code 1; a password is never
// printed (prefer --password-stdin: -p leaves it in the shell history and in `ps`).
import { fail, MinidError } from '../../errors.js';
import { DEFAULT_REGISTRY } from '../../image/ref.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** "https://index.docker.io/v1/", "index.docker.io", "" -> "docker.io"; "https://host:5000/" -> "host:5000". */
export function registryArg(s: string | undefined): string {
  if (!s) return DEFAULT_REGISTRY;
  const host = s.replace(/^[a-z]+:\/\//i, '').split('/')[0].toLowerCase();
  if (!host || /[^a-z0-9.:[\]-]/.test(host)) fail(`invalid registry ${JSON.stringify(s)}: give HOST[:PORT]`, 1);
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DEFAULT_REGISTRY : host;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The CLI's codes for login/logout/pull failures: docker's 1, not 125. */
async function exitOne<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MinidError && e.exitCode === 125) throw new MinidError(e.message, 1);
    throw e;
  }
}

export async function login(server: string | undefined, opts: { username?: string; password?: string; passwordStdin?: boolean }): Promise<void> {
  await exitOne(async () => {
    const registry = registryArg(server);
    if (opts.password !== undefined && opts.passwordStdin) fail('--password and --password-stdin are mutually exclusive', 1);
    if (!opts.username) fail('no username: give it with -u USER (and the password with --password-stdin)', 1);
    let password = opts.password;
    if (opts.passwordStdin) password = await readStdin();
    else if (password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (!password) fail('no password: pipe it into --password-stdin (or give -p PASSWORD)', 1);

    const { loadConfig } = await import('../../image/registry/config.js');
    const { endpointsFor } = await import('../../image/registry/endpoint.js');
    const { RegistryClient } = await import('../../image/registry/client.js');
    const { saveCredentials } = await import('../../image/registry/credentials.js');
    const config = loadConfig();
    // Docker logs in to the registry itself, never to a mirror.
    const ep = endpointsFor(registry, config).filter((e) => !e.mirror)[0];
    const creds = { username: opts.username, password };
    await new RegistryClient(registry, ep, config, creds).checkLogin();
    await saveCredentials(config.authFile, registry, creds);
    out('Login Succeeded');
  });
}

export async function logout(server: string | undefined): Promise<void> {
  await exitOne(async () => {
    const registry = registryArg(server);
    const { loadConfig } = await import('../../image/registry/config.js');
    const { removeCredentials } = await import('../../image/registry/credentials.js');
    if (await removeCredentials(loadConfig().authFile, registry)) out(`Removing login credentials for ${registry}`);
    else out(`Not logged in to ${registry}`);
  });
}

export { exitOne };
