// Lists S3 buckets with the profile in AWS_PROFILE, through the SDK's default credential chain
// (which runs the profile's credential_process). Prints bucket names, one a line; on an error,
// prints its name and message on stderr and exits 1.
import { S3Client, ListBucketsCommand } from "@aws-sdk/client-s3";

const client = new S3Client({ region: process.env.AWS_REGION || "us-east-1", forcePathStyle: true });
try {
  const out = await client.send(new ListBucketsCommand({}));
  for (const b of out.Buckets ?? []) console.log(b.Name);
} catch (err) {
  console.error(`${err.name}: ${err.message}`);
  process.exit(1);
}
