// The whole configuration: one section per component, each section's schema kept beside its component's code.

import Type, { type Static, type StaticDecode } from 'typebox';
import { AnalysisConfigSchema } from '../analysis/config.ts';
import { CollectorConfigSchema } from '../collector/config.ts';
import { DShieldConfigSchema, HpfeedsConfigSchema } from '../collector/compat/config.ts';
import { SensorConfigSchema } from '../sensor/config.ts';
import { HoneypotConfigSchema } from '../sensor/honeypot/config.ts';
import { PrivacyConfigSchema } from '../sensor/privacy/config.ts';
import { ShipperConfigSchema } from '../sensor/shipper/config.ts';
import { SpoolConfigSchema } from '../sensor/spool/config.ts';
import { ServerConfigSchema } from '../server/config.ts';
import { StorageConfigSchema } from '../storage/config.ts';

/**
 * Every section, keyed by its name in the file and in `PORTENT_<SECTION>_<KEY>` variables. Adding a
 * component's configuration is one line here; the loader, the docs and the example config follow.
 */
export const CONFIG_SECTIONS = {
  server: ServerConfigSchema,
  collector: CollectorConfigSchema,
  storage: StorageConfigSchema,
  analysis: AnalysisConfigSchema,
  dshield: DShieldConfigSchema,
  hpfeeds: HpfeedsConfigSchema,
  // The sensor's sections: a sensor host's file needs only these.
  sensor: SensorConfigSchema,
  spool: SpoolConfigSchema,
  shipper: ShipperConfigSchema,
  honeypot: HoneypotConfigSchema,
  privacy: PrivacyConfigSchema,
};

/** Schema of a whole configuration file. */
export const ConfigSchema = Type.Object(CONFIG_SECTIONS, { additionalProperties: false, default: {} });

/**
 * A loaded configuration: every key present, defaults filled in, durations in milliseconds and sizes in
 * bytes (same key names as the file).
 */
export type PortentConfig = StaticDecode<typeof ConfigSchema>;

/** A configuration as written in a file, with every key present (durations and sizes still text). */
export type PortentConfigFile = Static<typeof ConfigSchema>;
