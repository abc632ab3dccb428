// One user-assigned identity per role, each with the least data-plane roles it needs, on the
// narrowest scope that works (the index container, the one secret, the registry):
//   server: read blobs of the index container; read the token secret, only when one is named
//           (and, by parameter, write blobs: uploads through the server). Only with download
//           redirects (serverDownloads 'redirect') does it sign SAS URLs, and only then does it
//           hold Storage Blob Delegator, on the account (where user delegation keys are issued).
//   sync:   read and write blobs of the index container, except the access tokens
//           (state/tokens*): an ABAC condition, so the sync cannot mint an upload token
//   both:   pull the image
// and, when a GitHub repository is given, a workflow identity that GitHub Actions signs in as
// through OIDC federation (no stored secret), with a custom role assigned on the registry and
// the sync identity here, and on the sync jobs and their environment (sync-jobs.bicep): never
// on the resource group, where it could create a job running as the server identity.

@description('Required. Prefix of the identity names.')
param namePrefix string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Name of the storage account that holds the index.')
param storageAccountName string

@description('Required. Name of the index container in storageAccountName.')
param containerName string

@description('Required. Name of the container registry.')
param registryName string

@description('Required. Name of the key vault that holds the access tokens.')
param vaultName string

@description('Optional. Name of the key vault secret with the token file the server mounts; empty for none (then the server gets no key vault role).')
param tokenSecretName string = ''

@description('Optional. The server may also write blobs: uploads through its API (twine) and token last-use records. Off: the server only reads, and private packages are published with blobpi upload by an operator.')
param serverUploads bool = false

@description('Optional. How the server answers downloads: stream (through the server) or redirect (to a read SAS of the one blob; the server then holds Storage Blob Delegator on the account, and clients must reach the storage private endpoint).')
@allowed([
  'stream'
  'redirect'
])
param serverDownloads string = 'stream'

@description('Optional. GitHub repository (OWNER/NAME) whose main-branch workflow may build the image and start the sync; empty for none.')
param githubRepository string = ''

@description('Optional. Branch of githubRepository whose workflow is trusted.')
param githubBranch string = 'main'

@description('Optional. Tags for all resources.')
param tags object = {}

var roles = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}
// Azure ABAC (role assignment condition format): writes, creations, deletes and renames of the
// token records are not granted by the sync's Blob Data Contributor; everything else is.
var tokenBlobs = 'state/tokens*'
var blobActions = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs'
var syncCondition = '((!(ActionMatches{\'${blobActions}/write\'}) AND !(ActionMatches{\'${blobActions}/add/action\'}) AND !(ActionMatches{\'${blobActions}/delete\'}) AND !(ActionMatches{\'${blobActions}/move/action\'})) OR (@Resource[${blobActions}:path] StringNotLike \'${tokenBlobs}\'))'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: containerName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource tokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: empty(tokenSecretName) ? 'none' : tokenSecretName
}

resource server 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-server'
  location: location
  tags: tags
}

resource sync 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-sync'
  location: location
  tags: tags
}

resource workflow 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (!empty(githubRepository)) {
  name: '${namePrefix}-workflow'
  location: location
  tags: tags
}

resource workflowFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = if (!empty(githubRepository)) {
  parent: workflow
  name: 'github-${uniqueString(githubRepository, githubBranch)}'
  properties: {
    issuer: 'https://token.actions.githubusercontent.com'
    subject: 'repo:${githubRepository}:ref:refs/heads/${githubBranch}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource serverBlobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, server.id, roles.storageBlobDataReader)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: server.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource serverSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(tokenSecretName)) {
  name: guid(tokenSecret.id, server.id, roles.keyVaultSecretsUser)
  scope: tokenSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: server.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource serverAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, server.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: server.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource serverBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (serverUploads) {
  name: guid(container.id, server.id, roles.storageBlobDataContributor)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: server.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// A user delegation key is an account-level action: the SAS it signs is still limited by the
// Blob Data Reader role on the container (a delegation SAS grants no more than its signer has).
resource serverDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (serverDownloads == 'redirect') {
  name: guid(storage.id, server.id, roles.storageBlobDelegator)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)
    principalId: server.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource syncBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, sync.id, roles.storageBlobDataContributor)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: sync.properties.principalId
    principalType: 'ServicePrincipal'
    conditionVersion: '2.0'
    condition: syncCondition
    description: 'The sync writes the index, never the access tokens (state/tokens*).'
  }
}

resource syncAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, sync.id, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: sync.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// What the allow-list workflow does, and nothing more: `az acr build --agent-pool` (a run
// scheduled in the registry on its agent pool), `az containerapp job update --image` (which
// also joins the environment and attaches the sync identity again) and `az containerapp job
// start`. No built-in role is that narrow, so it is a custom role; each assignment's scope
// limits which of its actions apply where.
resource workflowRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(githubRepository)) {
  name: guid(resourceGroup().id, namePrefix, 'workflow-role')
  properties: {
    roleName: 'blobpi allow-list workflow (${namePrefix})'
    description: 'Build the sync image on the registry agent pool, update the sync jobs and start them.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.ContainerRegistry/registries/read'
          'Microsoft.ContainerRegistry/registries/listBuildSourceUploadUrl/action'
          'Microsoft.ContainerRegistry/registries/scheduleRun/action'
          'Microsoft.ContainerRegistry/registries/runs/read'
          'Microsoft.ContainerRegistry/registries/runs/listLogSasUrl/action'
          'Microsoft.ContainerRegistry/registries/agentpools/read'
          'Microsoft.App/jobs/read'
          'Microsoft.App/jobs/write'
          'Microsoft.App/jobs/start/action'
          'Microsoft.App/jobs/executions/read'
          'Microsoft.App/managedEnvironments/read'
          'Microsoft.App/managedEnvironments/join/action'
          'Microsoft.ManagedIdentity/userAssignedIdentities/read'
          'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action'
        ]
        notActions: []
      }
    ]
  }
}

// Assignments name a role definition by its subscription-level ID (a custom role is one object
// for the tenant; .id here would be the resource-group form).
var workflowRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workflowRole.name)

resource workflowOnRegistry 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(githubRepository)) {
  name: guid(registry.id, '${namePrefix}-workflow', 'workflow-role')
  scope: registry
  properties: {
    roleDefinitionId: workflowRoleId
    principalId: workflow.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workflowOnSyncIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(githubRepository)) {
  name: guid(sync.id, '${namePrefix}-workflow', 'workflow-role')
  scope: sync
  properties: {
    roleDefinitionId: workflowRoleId
    principalId: workflow.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

@description('The resource ID of the server identity.')
output serverId string = server.id

@description('The client ID of the server identity (AZURE_CLIENT_ID in the server).')
output serverClientId string = server.properties.clientId

@description('The principal ID of the server identity.')
output serverPrincipalId string = server.properties.principalId

@description('The resource ID of the sync identity.')
output syncId string = sync.id

@description('The client ID of the sync identity (AZURE_CLIENT_ID in the job).')
output syncClientId string = sync.properties.clientId

@description('The principal ID of the sync identity.')
output syncPrincipalId string = sync.properties.principalId

@description('The client ID GitHub Actions signs in with (vars.AZURE_CLIENT_ID); empty without a repository.')
output workflowClientId string = empty(githubRepository) ? '' : workflow.properties.clientId

@description('The principal ID of the workflow identity; empty without a repository.')
output workflowPrincipalId string = empty(githubRepository) ? '' : workflow.properties.principalId

@description('The resource ID of the workflow\'s custom role; empty without a repository.')
output workflowRoleId string = empty(githubRepository) ? '' : workflowRoleId
