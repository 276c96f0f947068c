// A Go SDK v2 program on a credential_process profile: it loads the shared config for the
// profile, then calls STS GetCallerIdentity and S3 ListObjectsV2 in a loop for a while, and
// prints what it saw as one JSON document. Used by tests/e2e/test_sdks.py.
//
// Usage: sdkloop PROFILE BUCKET SECONDS
// The endpoint comes from AWS_ENDPOINT_URL, set in code: this SDK release predates its
// support for that variable.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type report struct {
	Calls   int      `json:"calls"`
	Errors  []string `json:"errors"`
	Expired int      `json:"expired"`
	Keys    []string `json:"keys"`
	MinLeft *float64 `json:"min_left"`
	Arn     string   `json:"arn"`
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sdkloop PROFILE BUCKET SECONDS")
		os.Exit(2)
	}
	profile, bucket := os.Args[1], os.Args[2]
	seconds, err := strconv.ParseFloat(os.Args[3], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	opts := []func(*config.LoadOptions) error{config.WithSharedConfigProfile(profile)}
	if url := os.Getenv("AWS_ENDPOINT_URL"); url != "" {
		resolver := aws.EndpointResolverWithOptionsFunc(
			func(service, region string, _ ...interface{}) (aws.Endpoint, error) {
				return aws.Endpoint{URL: url, HostnameImmutable: true, SigningRegion: region}, nil
			})
		opts = append(opts, config.WithEndpointResolverWithOptions(resolver))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load config:", err)
		os.Exit(1)
	}
	stsClient := sts.NewFromConfig(cfg)
	s3Client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })

	out := report{Errors: []string{}, Keys: []string{}}
	end := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for first := true; first || time.Now().Before(end); first = false {
		ident, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			out.Errors = append(out.Errors, "sts: "+err.Error())
		} else {
			out.Arn = aws.ToString(ident.Arn)
			out.Calls++
		}
		if _, err := s3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err != nil {
			out.Errors = append(out.Errors, "s3: "+err.Error())
		} else {
			out.Calls++
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			out.Errors = append(out.Errors, "credentials: "+err.Error())
		} else {
			left := time.Until(creds.Expires).Seconds()
			if !creds.CanExpire || left <= 0 {
				out.Expired++
			}
			if out.MinLeft == nil || left < *out.MinLeft {
				out.MinLeft = &left
			}
			seen := false
			for _, k := range out.Keys {
				seen = seen || k == creds.AccessKeyID
			}
			if !seen {
				out.Keys = append(out.Keys, creds.AccessKeyID)
			}
		}
		if len(out.Errors) > 0 && seconds == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	doc, _ := json.Marshal(out)
	fmt.Println(string(doc))
	if out.Calls == 0 {
		os.Exit(1)
	}
}
