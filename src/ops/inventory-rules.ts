/**
 * Registers the rules over the model that the store runs on every read and edit but that need a
 * layer above the inventory (src/inventory/model-checks.ts): the kernel command line length of
 * every node against each consumer (src/render/boot-limits.ts, issue 16). Imported for its effect
 * by the CLI entry and by the workflows that edit nodes, so the rule is in force before any
 * inventory is read.
 */
import '../render/boot-limits.js';
