/**
 * The inventory store every job uses, opened once with the rules over the whole model that the
 * layers above the inventory decide: the kernel command line length of every node against each
 * consumer (render/boot-limits.ts). A job reads and writes the inventory only through these, so
 * no caller can run without a rule.
 */
import type { Model } from '../../inventory/model.js';
import { loadModel as loadModelWith, modelOfText as modelOfTextWith } from '../../inventory/model.js';
import type { ModelCheck } from '../../inventory/model-checks.js';
import { openInventoryStore } from '../../inventory/store.js';
import { bootLimitIssues } from '../../render/boot-limits.js';

export type { Inventory } from '../../inventory/store.js';

/** The rules over the whole model, in the order they run. */
const MODEL_CHECKS: readonly ModelCheck[] = [bootLimitIssues];

const store = openInventoryStore(MODEL_CHECKS);

/** Loads and validates the inventory for reading (see InventoryStore.loadInventory). */
export const loadInventory = store.loadInventory;
/** Validates inventory text (see InventoryStore.parseInventoryText). */
export const parseInventoryText = store.parseInventoryText;
/** Edits the inventory under its lock and saves it (see InventoryStore.updateInventory). */
export const updateInventory = store.updateInventory;
/** Creates a new inventory file (see InventoryStore.createInventory). */
export const createInventory = store.createInventory;

/** The inventory's model for reading, from the cache when it holds the file's text (inventory/model.ts). */
export function loadModel(file: string): Promise<Model> {
  return loadModelWith(file, MODEL_CHECKS);
}

/** loadModel for a text already read (undefined: the file could not be read; the store says why). */
export function modelOfText(file: string, text: string | undefined): Promise<Model> {
  return modelOfTextWith(file, text, MODEL_CHECKS);
}
