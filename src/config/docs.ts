// Renders docs/configuration.md and config/portent.example.yaml from the configuration schemas.
//
// Both files are generated (scripts/gen-config-docs.ts) and a test compares them with these renderings,
// so a key, default or description changed in a schema cannot leave the docs behind.

import { configEnvName, NON_CONFIG_PREFIXES, NON_CONFIG_VARIABLES } from './load.ts';
import { CONFIG_SECTIONS } from './schema.ts';
import { asNode, FIELD_META, rangeText, type SchemaNode } from './types.ts';

interface Field {
  key: string;
  node: SchemaNode;
  env: string;
}

interface SectionDoc {
  name: string;
  description: string;
  fields: Field[];
}

function sections(): SectionDoc[] {
  return Object.entries(CONFIG_SECTIONS).map(([name, schema]) => {
    const node = asNode(schema);
    const fields = Object.entries(node.properties ?? {}).map(([key, field]) => {
      // An undocumented field would render as a hole in the docs; refuse it where it is written.
      if (field.description === undefined || field.default === undefined) {
        throw new Error(`config field ${name}.${key} needs a description and a default`);
      }
      return { key, node: field, env: configEnvName(name, key) };
    });
    return { name, description: node.description ?? '', fields };
  });
}

/** A field's type and limits in a few words: "integer, 0 to 65535", "duration, at least 1h". */
export function typeLabel(node: SchemaNode): string {
  const meta = node[FIELD_META];
  const limits = (min: unknown, max: unknown) => {
    const text = rangeText(min as string | undefined, max as string | undefined).replace(/^(from|of) /, '');
    return text === '' ? '' : `, ${text}`;
  };
  if (meta?.kind === 'duration') return `duration${limits(meta.minimum, meta.maximum)}`;
  if (meta?.kind === 'bytesize') {
    return `${meta.emptyMeans === undefined ? 'size' : 'size or ""'}${limits(meta.minimum, meta.maximum)}`;
  }
  if (node.enum !== undefined) return `one of ${node.enum.map(String).join(', ')}`;
  if (node.type === 'integer' || node.type === 'number')
    return `${node.type}${limits(node.minimum, node.maximum)}`;
  return node.type ?? 'value';
}

function defaultText(node: SchemaNode): string {
  return JSON.stringify(node.default);
}

// Markdown tables are padded the way Prettier pads them, so `prettier --check` accepts the generated file.
function table(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows].map((row) => row.map((c) => c.replaceAll('|', '\\|')));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)];
}

/** docs/configuration.md: how configuration is read, then one table per section. */
export function renderConfigDocs(): string {
  const docs = sections();
  const allowed = [
    ...NON_CONFIG_VARIABLES.map((v) => `\`${v}\``),
    ...NON_CONFIG_PREFIXES.map((p) => `\`${p}*\``),
  ];
  const out = [
    '# Configuration',
    '',
    '<!-- Generated from the schemas in src/*/config.ts by `node scripts/gen-config-docs.ts`: do not edit.',
    '     src/config/docs.test.ts fails when this file and the schemas disagree. -->',
    '',
    'Portent reads a YAML file, then environment variables, then fills in a default for every key left out.',
    '',
    '- **File.** The file named on the command line, or else by `PORTENT_CONFIG`; with neither, only the',
    '  environment and the defaults apply. Every key is optional and an empty file means all defaults.',
    '  `config/portent.example.yaml` has every key at its default.',
    '- **Environment.** `PORTENT_<SECTION>_<KEY>` (for example `PORTENT_SERVER_LISTEN_PORT=0`) overrides the',
    '  key in the file. Write integers as digits, booleans as `true` or `false`, and durations and sizes as in',
    '  the file.',
    '- **Checks.** Unknown keys, unknown `PORTENT_*` variables and bad values are errors, all reported at',
    '  once with the key (or variable) at fault; `portent config check FILE` runs the same checks. Variables',
    `  that are not configuration are left alone: ${allowed.join(', ')}.`,
    '',
    '## Units',
    '',
    '- **Durations** are a whole number and a unit: `ms`, `s`, `m`, `h` or `d`, as in `"250ms"`, `"30s"`,',
    '  `"5m"`, `"1h"`, `"30d"`. Portent reads them as milliseconds.',
    '- **Sizes** are a whole number of bytes (`1048576`) or a whole number and a binary unit: `B`, `KiB`,',
    '  `MiB`, `GiB` or `TiB`, as in `"512KiB"`, `"16MiB"`, `"1GiB"` (1KiB = 1024 bytes). Portent reads them',
    '  as bytes.',
    '',
    'Limits in the Type column are inclusive.',
  ];
  for (const section of docs) {
    out.push('', `## \`${section.name}\``, '', section.description, '');
    out.push(
      ...table(
        ['Key', 'Type', 'Default', 'Environment variable', 'Description'],
        section.fields.map((f) => [
          `\`${f.key}\``,
          typeLabel(f.node),
          `\`${defaultText(f.node)}\``,
          `\`${f.env}\``,
          f.node.description ?? '',
        ]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

/** Words of `text` as `# ` comment lines indented by `indent`, at most `width` columns where possible. */
function comment(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + 2 + line.length + 1 + word.length > width) {
      lines.push(`${indent}# ${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(`${indent}# ${line}`);
  return lines;
}

/** A value as YAML, strings in single quotes (the repository's Prettier style). */
function yamlValue(value: unknown): string {
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  return JSON.stringify(value);
}

/** config/portent.example.yaml: every key at its default, each with its description, type and variable. */
export function renderExampleConfig(): string {
  const out = [
    '# Portent configuration with every key at its default (docs/configuration.md explains each).',
    '# Generated from the schemas by `node scripts/gen-config-docs.ts`: do not edit; copy it instead.',
    '#',
    '# Every key is optional: keep only the ones you change. The environment variable named with a key',
    '# overrides it. Durations: "250ms", "30s", "5m", "1h", "30d". Sizes: "512KiB", "16MiB", "1GiB" or bytes.',
  ];
  for (const section of sections()) {
    out.push('', ...comment(section.description, ''), `${section.name}:`);
    section.fields.forEach((f, i) => {
      if (i > 0) out.push('');
      out.push(...comment(f.node.description ?? '', '  '));
      out.push(...comment(`${typeLabel(f.node)}; env ${f.env}`, '  '));
      out.push(`  ${f.key}: ${yamlValue(f.node.default)}`);
    });
  }
  return `${out.join('\n')}\n`;
}
