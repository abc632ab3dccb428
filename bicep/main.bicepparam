using './main.bicep'

// The upstream index is read from the environment so that no index host is written here:
//   export BLOBPI_UPSTREAM=https://UPSTREAM/simple/
param upstreamUrl = readEnvironmentVariable('BLOBPI_UPSTREAM')
param namePrefix = 'blobpi'
param image = readEnvironmentVariable('BLOBPI_IMAGE', 'blobpi:latest')
param syncImage = readEnvironmentVariable('BLOBPI_SYNC_IMAGE', '')
param deployApps = bool(readEnvironmentVariable('BLOBPI_DEPLOY_APPS', 'true'))
// Inside the VNet the default deployment lets clients read without a token.
param anonymousRead = true
param syncSchedule = '17 * * * *'
param syncShards = 1
param githubRepository = readEnvironmentVariable('BLOBPI_GITHUB_REPOSITORY', '')
param azureMlVnetId = readEnvironmentVariable('BLOBPI_AZUREML_VNET_ID', '')
param azureMlWorkspaceName = readEnvironmentVariable('BLOBPI_AZUREML_WORKSPACE', '')
param azureMlManagedNetwork = bool(readEnvironmentVariable('BLOBPI_AZUREML_MANAGED_NETWORK', 'false'))
