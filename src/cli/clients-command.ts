import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { Client } from '../clients/types.js';
import { clientJson } from '../clients/client-json.js';
import { CliError } from './cli-error.js';
import { createOutput, iso, table } from './output.js';
import type { CommandContext } from './command-context.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const collectWords = (value: string, previous: string[] = []) => [...previous, ...value.split(/\s+/).filter(Boolean)];

export { clientJson };

function clientText(c: Client): string {
  return table([
    ['client_id:', c.clientId],
    ['name:', c.name],
    ['grants:', c.grantTypes.join(' ')],
    ['scopes:', c.scopes.join(' ') || '(none)'],
    ['audience:', c.audience ?? '(server default)'],
    ['audiences:', c.audiences.join(' ') || '(none)'],
    ['token ttl:', c.accessTokenTtlSeconds ? `${c.accessTokenTtlSeconds}s` : '(server default)'],
    ['introspect:', c.mayIntrospect ? 'any token' : 'own tokens only'],
    ['dpop:', c.requireDpop ? 'required' : 'optional'],
    ['status:', c.disabled ? 'disabled' : 'enabled'],
    ...(c.previousSecretExpiresAt ? [['old secret until:', c.previousSecretExpiresAt.toISOString()]] : []),
  ]);
}

const json = () => new Option('--json', 'print JSON for scripts');

/** The JSON document in a --jwks-file; what it holds is checked by the client service. */
function readJwksFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new CliError(`cannot read --jwks-file ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`--jwks-file ${path} is not JSON`);
  }
}

export function clientsCommand(ctx: CommandContext): Command {
  const cmd = new Command('clients').description('manage OAuth clients (apps and services)');

  cmd
    .command('create')
    .description('register a client and print its secret (shown once)')
    .requiredOption('--name <name>', 'a name for people')
    .option('--id <client_id>', 'the client_id (default: random)')
    .option('--grant <type>', 'allowed grant: client_credentials or password (repeatable)', collect)
    .option('--scope <scopes>', 'allowed scopes, space-separated (repeatable)', collectWords)
    .option('--audience <uri>', 'audience of its tokens when a request names no resource')
    .option('--resource <uri>', 'a further resource (RFC 8707) it may ask tokens for (repeatable)', collect)
    .option('--ttl <seconds>', 'access-token lifetime for this client', (v) => Number(v))
    .option('--introspect', 'may introspect any token (resource servers)')
    .option('--require-dpop', 'refuse its token requests that carry no DPoP proof (RFC 9449)')
    .addOption(new Option('--auth <method>', 'how it authenticates').choices(['client_secret_basic', 'private_key_jwt']).default('client_secret_basic'))
    .option('--jwks-file <file>', 'private_key_jwt: a JWKS file of its public keys')
    .option('--jwks-uri <url>', 'private_key_jwt: where Sigil fetches its public keys (https)')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ clientService }) => {
        const settings = {
          clientId: o.id,
          name: o.name,
          grantTypes: o.grant ?? [],
          scopes: o.scope ?? [],
          audience: o.audience,
          audiences: o.resource ?? [],
          accessTokenTtlSeconds: o.ttl,
          mayIntrospect: Boolean(o.introspect),
          requireDpop: Boolean(o.requireDpop),
        };
        if (o.auth === 'private_key_jwt') {
          const client = await clientService.createWithKeys({
            ...settings,
            ...(o.jwksFile !== undefined && { jwks: readJwksFile(o.jwksFile) }),
            ...(o.jwksUri !== undefined && { jwksUri: o.jwksUri }),
          });
          createOutput(o.json, ctx.write).print(
            `Created client "${client.name}" (private_key_jwt: no secret).\n${clientText(client)}`,
            clientJson(client),
          );
          return;
        }
        if (o.jwksFile !== undefined || o.jwksUri !== undefined) throw new CliError('--jwks-file and --jwks-uri need --auth private_key_jwt');
        const { client, clientSecret } = await clientService.create(settings);
        createOutput(o.json, ctx.write).print(
          `Created client "${client.name}".\n${clientText(client)}\nclient_secret: ${clientSecret}\n\nThe secret is shown only now: store it safely.`,
          { ...clientJson(client), client_secret: clientSecret },
        );
      }),
    );

  cmd
    .command('list')
    .description('list clients')
    .addOption(json())
    .action((o) =>
      ctx.withStore(async ({ clients }) => {
        const all = await clients.list();
        const rows = all.map((c) => [c.clientId, c.name, c.grantTypes.join(','), c.scopes.join(' '), c.disabled ? 'disabled' : 'enabled']);
        createOutput(o.json, ctx.write).print(
          all.length ? table([['CLIENT_ID', 'NAME', 'GRANTS', 'SCOPES', 'STATUS'], ...rows]) : 'No clients yet.',
          all.map(clientJson),
        );
      }),
    );

  cmd
    .command('show <client_id>')
    .description("show a client's settings")
    .addOption(json())
    .action((id: string, o) =>
      ctx.withStore(async ({ clientService }) => {
        const client = await clientService.get(id);
        createOutput(o.json, ctx.write).print(clientText(client), clientJson(client));
      }),
    );

  cmd
    .command('set-jwks <client_id>')
    .description("replace a private_key_jwt client's public keys (list old and new keys while rolling over)")
    .option('--jwks-file <file>', 'a JWKS file of its public keys')
    .option('--jwks-uri <url>', 'where Sigil fetches its public keys (https)')
    .addOption(json())
    .action((id: string, o) =>
      ctx.withStore(async ({ clientService }) => {
        const client = await clientService.setJwks(id, {
          ...(o.jwksFile !== undefined && { jwks: readJwksFile(o.jwksFile) }),
          ...(o.jwksUri !== undefined && { jwksUri: o.jwksUri }),
        });
        createOutput(o.json, ctx.write).print(`Keys of "${client.clientId}" replaced.`, clientJson(client));
      }),
    );

  cmd
    .command('rotate-secret <client_id>')
    .description('issue a new secret; the old one stays valid for a grace period')
    .option('--grace-hours <hours>', 'how long the old secret keeps working', (v) => Number(v))
    .addOption(json())
    .action((id: string, o) =>
      ctx.withStore(async ({ clientService, config }) => {
        const grace = o.graceHours ?? config.clientSecretGraceHours;
        if (!Number.isFinite(grace) || grace < 0) throw new CliError('--grace-hours must be a number ≥ 0');
        const { client, clientSecret } = await clientService.rotateSecret(id, grace);
        createOutput(o.json, ctx.write).print(
          `New secret for "${client.clientId}": ${clientSecret}\nThe previous secret works until ${iso(client.previousSecretExpiresAt)}.`,
          { ...clientJson(client), client_secret: clientSecret },
        );
      }),
    );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    cmd
      .command(`${name} <client_id>`)
      .description(`${name} a client${disabled ? ': its tokens requests are refused' : ''}`)
      .addOption(json())
      .action((id: string, o) =>
        ctx.withStore(async ({ clientService }) => {
          const client = await clientService.update(id, { disabled });
          createOutput(o.json, ctx.write).print(`Client "${id}" ${name}d.`, clientJson(client));
        }),
      );
  }

  cmd
    .command('delete <client_id>')
    .description('delete a client')
    .addOption(json())
    .action((id: string, o) =>
      ctx.withStore(async ({ clientService }) => {
        await clientService.delete(id);
        createOutput(o.json, ctx.write).print(`Client "${id}" deleted.`, { client_id: id, deleted: true });
      }),
    );

  return cmd;
}
