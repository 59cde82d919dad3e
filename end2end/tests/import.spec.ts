// Another CRM's export imports through the page: other file and column names, products
// referred to by id. Each file is previewed, its columns are suggested (one is chosen by
// hand), the progress shows while the deals are written, the report counts every row as
// the Maven files would, and the mapping is kept for the next import.
import { test, expect, Page } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { call, signedIn } from './helpers';

const dataDir = process.env.TANDEM_CRM_DATA ?? path.resolve(__dirname, '../../../shared/data/maven-crm');

/** Writes the Maven export into a new folder as another CRM would export it; returns the files. */
function otherExport(): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-export-'));
  // The Maven files hold no quoted fields, so splitting on commas is exact.
  const read = (f: string) => fs.readFileSync(path.join(dataDir, f), 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.split(','));
  const write = (f: string, header: string[], rows: string[][]) => {
    fs.writeFileSync(path.join(dir, f), [header, ...rows].map((r) => r.join(',')).join('\n') + '\n');
    return path.join(dir, f);
  };
  const products = read('products.csv');
  const sku = new Map(products.map((r, i) => [r[0], `SKU-${i + 1}`]));
  return [
    write('catalog.csv', ['SKU', 'Product Name', 'Family', 'List Price'], products.map((r) => [sku.get(r[0])!, r[0], r[1], r[2]])),
    write('companies.csv', ['Company', 'Industry', 'Founded', 'Revenue', 'Employees', 'Headquarters', 'Parent'], read('accounts.csv')),
    write('reps.csv', ['Rep', 'Team Lead', 'Region'], read('sales_teams.csv')),
    write('opportunities.csv', ['Deal', 'Rep', 'SKU', 'Company', 'Stage', 'Created', 'Closed', 'Won Amount (USD)'],
      read('sales_pipeline.csv').map((r) => [r[0], r[1], sku.get(r[2]) ?? r[2], r[3], r[4], r[5], r[6], r[7]])),
  ];
}

const columns = (page: Page, file: string) => page.getByRole('table', { name: `Columns of ${file}` });

test('another CRM\'s export imports through a previewed, suggested and saved column mapping', async ({ browser }) => {
  const stamp = Date.now();
  const [ctx, page] = await signedIn(browser, 'Ida Importer', `ida${stamp}@example.com`);
  const ws = await call(ctx, 'create_workspace', { name: `Other CRM ${stamp}`, slug: null });
  const files = otherExport();

  await page.goto(`/w/${ws.slug}/import`);
  await expect(page.getByLabel('CSV files')).toBeEnabled();
  await page.getByLabel('CSV files').setInputFiles(files);

  // A preview of each file: its columns and first rows.
  const preview = page.getByRole('table', { name: 'Preview of companies.csv' });
  await expect(preview.getByRole('columnheader')).toHaveText(['Company', 'Industry', 'Founded', 'Revenue', 'Employees', 'Headquarters', 'Parent']);
  await expect(preview.getByRole('row', { name: /Acme Corporation/ })).toBeVisible();

  // Each file is recognised, and its columns suggested.
  await expect(page.getByLabel('companies.csv is')).toHaveValue('accounts');
  await expect(page.getByLabel('opportunities.csv is')).toHaveValue('sales_pipeline');
  await expect(page.getByLabel('catalog.csv is')).toHaveValue('products');
  await expect(page.getByLabel('reps.csv is')).toHaveValue('sales_teams');
  await expect(columns(page, 'companies.csv').getByLabel('Account (company) name (required)')).toHaveValue('Company');
  await expect(columns(page, 'companies.csv').getByLabel('Office location')).toHaveValue('Headquarters');
  await expect(columns(page, 'opportunities.csv').getByLabel('Product (name or id)')).toHaveValue('SKU');
  await expect(columns(page, 'catalog.csv').getByLabel(/^Product id/)).toHaveValue('SKU');
  // No name suggests the deals' value: chosen by hand.
  const value = columns(page, 'opportunities.csv').getByLabel('Value (USD)');
  await expect(value).toHaveValue('');
  await value.selectOption('Won Amount (USD)');

  // Import: the progress shows while the deals are written, then the report.
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: /^opportunities\.csv: \d+ of 8800 rows$/ })).toBeVisible({ timeout: 60_000 });
  const report = page.getByRole('table', { name: 'Import report' });
  await expect(report).toBeVisible({ timeout: 120_000 });
  const row = (file: string) => report.getByRole('row').filter({ has: page.getByRole('rowheader', { name: file }) });
  await expect(row('opportunities.csv').getByRole('cell')).toHaveText(['8800', '8800', '0', '0', '0', '2683']);
  await expect(row('companies.csv').getByRole('cell')).toHaveText(['85', '85', '0', '0', '0', '12']);
  await expect(row('catalog.csv').getByRole('cell')).toHaveText(['7', '7', '0', '0', '0', '0']);

  // The products named by id were found: a deal shows its product by name, with its value.
  await page.goto(`/w/${ws.slug}/deals?view=list&q=1C1I7A6R`);
  const deal = page.getByRole('table', { name: 'Deals' }).getByRole('row', { name: /1C1I7A6R/ });
  await expect(deal).toContainText('GTX Plus Basic');
  await expect(deal).toContainText('$1,054');

  // The mapping was kept: choosing the files again finds the hand-picked column.
  await page.goto(`/w/${ws.slug}/import`);
  await expect(page.getByLabel('CSV files')).toBeEnabled();
  await page.getByLabel('CSV files').setInputFiles(files);
  await expect(columns(page, 'opportunities.csv').getByLabel('Value (USD)')).toHaveValue('Won Amount (USD)');
  await ctx.close();
});
