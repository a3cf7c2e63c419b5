// 1Password's own Connect SDK (@1password/connect) driving clawvault's Connect API, as a
// platform's "Secret Providers" page or a bot would: each step's outcome goes into one JSON
// report on stdout, which tests/connect/test_connect_sdk.py checks against the server.
//
// Environment: CONNECT_URL (as a user would paste it), CONNECT_TOKEN (an agent key),
// CONNECT_VAULT (the vault's title), FILE_ITEM (the title of an item holding a file).
"use strict";

const { OnePasswordConnect, ItemBuilder, FieldType, FieldPurpose, ItemCategory } = require("@1password/connect");

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (e) {
    // The SDK rejects with the server's error body itself ({status, message}).
    return { ok: false, status: e && e.status, message: e && e.message };
  }
}

function fieldsOf(item) {
  return (item.fields || []).map((f) => ({ label: f.label, type: f.type, purpose: f.purpose, value: f.value }));
}

async function main() {
  const env = process.env;
  const op = OnePasswordConnect({ serverURL: env.CONNECT_URL, token: env.CONNECT_TOKEN, keepAlive: true });
  const report = {};

  report.vaults = (await op.listVaults()).map((v) => v.name);
  const vault = await op.getVault(env.CONNECT_VAULT);
  report.vault = { id: vault.id, name: vault.name };
  report.vaultById = (await op.getVaultById(vault.id)).name;

  const discord = await op.getItemByTitle(vault.id, "bots/discord");
  report.discord = { id: discord.id, category: discord.category, version: discord.version, fields: fieldsOf(discord) };
  report.discordById = fieldsOf(await op.getItem(vault.id, discord.id));

  const listed = await op.listItems(vault.id);
  report.listed = listed.map((i) => ({ title: i.title, keys: Object.keys(i).sort() }));
  report.contains = (await op.listItemsByTitleContains(vault.id, "DISC")).map((i) => i.title);

  const login = new ItemBuilder()
    .setCategory(ItemCategory.Login)
    .setTitle("apps/db")
    .addTag("prod")
    .addUrl({ href: "https://db.example.com", primary: true })
    .addField({ label: "username", value: "app", type: FieldType.String, purpose: FieldPurpose.Username })
    .addField({ label: "password", value: env.CANARY_1, type: FieldType.Concealed, purpose: FieldPurpose.Password })
    .addField({ label: "port", value: "5432", type: FieldType.String, sectionName: "Connection" })
    .build();
  const created = await op.createItem(vault.id, login);
  report.created = { id: created.id, version: created.version, category: created.category, tags: created.tags, fields: fieldsOf(created), sections: (created.sections || []).map((s) => s.label) };

  const stale = await op.getItemById(vault.id, created.id);
  created.fields.find((f) => f.label === "password").value = env.CANARY_2;
  const updated = await op.updateItem(vault.id, created);
  report.updated = { version: updated.version, fields: fieldsOf(updated) };
  stale.fields.find((f) => f.label === "password").value = "lost-update";
  report.staleUpdate = await outcome(op.updateItem(vault.id, stale));
  if (report.staleUpdate.ok) report.staleUpdate = { ok: true, version: report.staleUpdate.value.version };

  const generated = new ItemBuilder()
    .setCategory(ItemCategory.Password)
    .setTitle("apps/generated")
    .addField({ label: "password", type: FieldType.Concealed, generate: true, recipe: { length: 24, characterSets: ["LETTERS", "DIGITS"] } })
    .build();
  const made = await op.createItem(vault.id, generated);
  report.generated = fieldsOf(made).map((f) => ({ label: f.label, length: f.value === undefined ? null : f.value.length }));

  const duplicate = await outcome(op.createItem(vault.id, login));
  report.duplicate = { ok: duplicate.ok, status: duplicate.status };

  const fileItem = await op.getItemByTitle(vault.id, env.FILE_ITEM);
  const files = await op.listFiles(vault.id, fileItem.id);
  report.files = files.map((f) => ({ id: f.id, name: f.name, size: f.size, content_path: f.content_path }));
  report.fileContent = await op.getFileContent(vault.id, fileItem.id, files[0].id);
  report.fileById = (await op.getFileById(vault.id, fileItem.id, files[0].id)).name;

  await op.deleteItem(vault.id, "apps/generated");
  report.afterDelete = await outcome(op.getItemByTitle(vault.id, "apps/generated"));

  const intruder = OnePasswordConnect({ serverURL: env.CONNECT_URL, token: "ocv_not-a-real-key", keepAlive: false });
  report.badToken = await outcome(intruder.listVaults());

  process.stdout.write(JSON.stringify(report));
}

main().catch((e) => {
  process.stderr.write(`drive.js failed: ${JSON.stringify(e)} ${e && e.stack ? e.stack : ""}\n`);
  process.exit(1);
});
