# A Ruby SDK (aws-sdk-core) program on a credential_process profile: Aws::STS::Client with
# profile:, so the shared config's credential_process provides the credentials. It calls STS
# GetCallerIdentity in a loop for a while and prints what it saw as one JSON document.
# Used by tests/e2e/test_sdks.py.
#
# Usage: ruby sdkloop.rb PROFILE SECONDS
# The endpoint comes from AWS_ENDPOINT_URL, set in code: this SDK release predates its
# support for that variable.
require 'json'
require 'aws-sdk-core'

profile = ARGV.fetch(0)
seconds = Float(ARGV.fetch(1))
options = { profile: profile }
options[:endpoint] = ENV['AWS_ENDPOINT_URL'] if ENV['AWS_ENDPOINT_URL']
client = Aws::STS::Client.new(**options)
provider = client.config.credentials

out = { 'calls' => 0, 'errors' => [], 'expired' => 0, 'keys' => [], 'min_left' => nil,
        'arn' => nil, 'provider' => provider.class.name }
finish = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
loop do
  begin
    out['arn'] = client.get_caller_identity.arn
    out['calls'] += 1
  rescue StandardError => e
    out['errors'] << "#{e.class}: #{e.message}"
  end
  expiration = provider.respond_to?(:expiration) ? provider.expiration : nil
  left = expiration ? expiration - Time.now : nil
  out['expired'] += 1 if left.nil? || left <= 0
  out['min_left'] = left if left && (out['min_left'].nil? || left < out['min_left'])
  key = provider.credentials.access_key_id
  out['keys'] << key unless out['keys'].include?(key)
  break if Process.clock_gettime(Process::CLOCK_MONOTONIC) >= finish

  sleep 0.2
end
puts JSON.generate(out)
exit(out['calls'].zero? ? 1 : 0)
