// Lists S3 buckets for SECONDS seconds (argv[2]) through the SDK's default credential chain,
// and prints a JSON summary: calls made, errors, distinct access keys seen, expired ones.
import { S3Client, ListBucketsCommand } from "@aws-sdk/client-s3";

const seconds = Number(process.argv[2] || "10");
const client = new S3Client({ region: process.env.AWS_REGION || "us-east-1", forcePathStyle: true });
const out = { calls: 0, errors: [], keys: [], expired: 0 };
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  try {
    await client.send(new ListBucketsCommand({}));
    out.calls += 1;
    const creds = await client.config.credentials();
    if (!out.keys.includes(creds.accessKeyId)) out.keys.push(creds.accessKeyId);
    if (creds.expiration && creds.expiration.getTime() <= Date.now()) out.expired += 1;
  } catch (err) {
    out.errors.push(`${err.name}: ${err.message}`);
  }
  await new Promise((r) => setTimeout(r, 200));
}
console.log(JSON.stringify(out));
