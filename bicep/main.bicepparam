using './main.bicep'

// Every value a deployment varies is read from the environment, so that docs/deploy.md's steps
// set variables and always pass just this file (no inline --parameters overrides), and no
// index host is written here:
//   export BLOBPI_UPSTREAM=https://UPSTREAM/simple/
param upstreamUrl = readEnvironmentVariable('BLOBPI_UPSTREAM')
// JSON array of the hosts the upstream's file URLs point at, when not the upstream's own.
param upstreamFileHosts = json(readEnvironmentVariable('BLOBPI_UPSTREAM_FILE_HOSTS', '[]'))
param namePrefix = 'blobpi'
// Both images are required once the apps are deployed (the apps modules refuse an empty one):
// a redeploy without them fails instead of going back to another image.
param image = readEnvironmentVariable('BLOBPI_IMAGE', '')
param syncImage = readEnvironmentVariable('BLOBPI_SYNC_IMAGE', '')
param deployApps = bool(readEnvironmentVariable('BLOBPI_DEPLOY_APPS', 'true'))
// Inside the VNet the default deployment lets clients read without a token.
param anonymousRead = bool(readEnvironmentVariable('BLOBPI_ANONYMOUS_READ', 'true'))
param serverUploads = bool(readEnvironmentVariable('BLOBPI_SERVER_UPLOADS', 'false'))
param serverDownloads = readEnvironmentVariable('BLOBPI_SERVER_DOWNLOADS', 'stream')
param tokenSecretName = readEnvironmentVariable('BLOBPI_TOKEN_SECRET', '')
param syncSchedule = '17 * * * *'
param syncShards = 1
param githubRepository = readEnvironmentVariable('BLOBPI_GITHUB_REPOSITORY', '')
param azureMlVnetId = readEnvironmentVariable('BLOBPI_AZUREML_VNET_ID', '')
param azureMlLinkBlobZone = bool(readEnvironmentVariable('BLOBPI_AZUREML_LINK_BLOB_ZONE', 'false'))
param azureMlWorkspaceName = readEnvironmentVariable('BLOBPI_AZUREML_WORKSPACE', '')
param azureMlResourceGroup = readEnvironmentVariable('BLOBPI_AZUREML_RESOURCE_GROUP', '')
param azureMlManagedNetwork = bool(readEnvironmentVariable('BLOBPI_AZUREML_MANAGED_NETWORK', 'false'))
param azureMlIndexUrl = readEnvironmentVariable('BLOBPI_AZUREML_INDEX_URL', '')
param azureMlFeedToken = readEnvironmentVariable('BLOBPI_AZUREML_FEED_TOKEN', '')
param deployGateway = bool(readEnvironmentVariable('BLOBPI_DEPLOY_GATEWAY', 'false'))
param gatewayHostName = readEnvironmentVariable('BLOBPI_GATEWAY_HOST', '')
param gatewayCertificateSecretId = readEnvironmentVariable('BLOBPI_GATEWAY_CERTIFICATE', '')
