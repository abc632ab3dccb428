// The server's internal Container Apps environment on the apps subnet, the index server, and a
// private DNS zone for the environment's domain, so the index host name resolves inside the VNet
// (and in a linked Azure ML VNet).
//
// Reachability: in an internal environment, ingress `external: true` means "on the environment's
// internal load balancer", the private address VMs, peered VNets and an Application Gateway
// reach; `external: false` would keep the server reachable only from inside the environment.

@description('Required. Prefix of the resource names: lower case, at most 24 characters, so that every container app name stays within 32.')
@minLength(2)
@maxLength(24)
param namePrefix string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the subnet delegated to Microsoft.App/environments.')
param appsSubnetId string

@description('Required. Resource IDs of the VNets that resolve the index host name (the deployment VNet first).')
param vnetIds array

@description('Required. Address prefix of the apps subnet: the ingress proxies connect from it, so the server trusts their X-Forwarded-For (per-client auth failure limits).')
param appsSubnetPrefix string

@description('Required. Resource ID of the Log Analytics workspace.')
param workspaceId string

@description('Required. Login server of the registry, e.g. NAME.azurecr.io.')
param registryServer string

@description('Required. Image reference without the registry, e.g. blobpi:0.1.0 (never a moving tag: a redeploy would change what runs).')
@minLength(1)
param image string

@description('Required. URL of the index container, https://ACCOUNT.blob.core.windows.net/CONTAINER.')
param containerUrl string

@description('Required. Resource ID of the server identity.')
param serverIdentityId string

@description('Required. Client ID of the server identity.')
param serverClientId string

@description('Required. URI of the key vault, https://NAME.vault.azure.net/.')
param vaultUri string

@description('Optional. Name of a key vault secret holding the token file (JSON, as blobpi token commands write it), mounted as BLOBPI_TOKEN_FILE; empty to keep tokens in the container (state/tokens.json).')
param tokenSecretName string = ''

@description('Optional. Let clients inside the network read without a token.')
param anonymousRead bool = false

@description('Optional. How the server answers downloads (BLOBPI_DOWNLOADS): stream, or redirect to a read SAS of the one blob, which clients fetch from the storage private endpoint.')
@allowed([
  'stream'
  'redirect'
])
param downloads string = 'stream'

@description('Optional. The HTTP server under the app (BLOBPI_HTTP_SERVER): granian (faster; safe behind the ingress, which forwards only complete requests) or uvicorn.')
@allowed([
  'granian'
  'uvicorn'
])
param httpServer string = 'granian'

@description('Optional. Spread the environment over availability zones; the server then keeps 3 replicas, one per zone (with 1 a zone outage takes the index down anyway).')
param zoneRedundant bool = true

@description('Optional. Most server replicas under load.')
@minValue(3)
@maxValue(30)
param maxReplicas int = 5

@description('Optional. Concurrent requests per replica before another is added.')
@minValue(1)
param concurrentRequests int = 50

@description('Optional. Tags for all resources.')
param tags object = {}

var tokenFile = '/etc/blobpi/secrets/tokens.json'
var serverEnv = [
  {
    name: 'BLOBPI_STORAGE'
    value: containerUrl
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: serverClientId
  }
  {
    name: 'BLOBPI_ANONYMOUS_READ'
    value: anonymousRead ? 'true' : 'false'
  }
  {
    name: 'BLOBPI_TRUSTED_PROXIES'
    value: appsSubnetPrefix
  }
  {
    name: 'BLOBPI_DOWNLOADS'
    value: downloads
  }
  {
    name: 'BLOBPI_HTTP_SERVER'
    value: httpServer
  }
]
var tokenEnv = empty(tokenSecretName) ? [] : [
  {
    name: 'BLOBPI_TOKEN_FILE'
    value: tokenFile
  }
]
// Liveness: the process answers; readiness: it can serve (storage reachable). Container Apps
// probe limits: failureThreshold 1-10, periodSeconds 1-240, initialDelaySeconds 1-60,
// timeoutSeconds 1-240, successThreshold 1 for liveness and startup.
var liveProbe = {
  path: '/health/live'
  port: 8080
  scheme: 'HTTP'
}
var readyProbe = {
  path: '/health/ready'
  port: 8080
  scheme: 'HTTP'
}

resource managedEnv 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    vnetConfiguration: {
      internal: true
      infrastructureSubnetId: appsSubnetId
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    zoneRedundant: zoneRedundant
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: managedEnv
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated' // ContainerAppConsoleLogs, ContainerAppSystemLogs
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

module zone 'dns-zone.bicep' = {
  name: 'apps-zone-${uniqueString(namePrefix)}'
  params: {
    name: managedEnv.properties.defaultDomain
    vnetIds: vnetIds
    wildcardIp: managedEnv.properties.staticIp
    tags: tags
  }
}

resource server 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-server'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${serverIdentityId}': {}
    }
  }
  properties: {
    environmentId: managedEnv.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true // in an internal environment: the VNet's private address, not the internet
        targetPort: 8080
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        {
          server: registryServer
          identity: serverIdentityId
        }
      ]
      secrets: empty(tokenSecretName) ? [] : [
        {
          name: 'tokens'
          keyVaultUrl: '${vaultUri}secrets/${tokenSecretName}'
          identity: serverIdentityId
        }
      ]
    }
    template: {
      volumes: empty(tokenSecretName) ? [] : [
        {
          name: 'tokens'
          storageType: 'Secret'
          secrets: [
            {
              secretRef: 'tokens'
              path: 'tokens.json'
            }
          ]
        }
      ]
      containers: [
        {
          name: 'server'
          image: '${registryServer}/${image}'
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: concat(serverEnv, tokenEnv)
          volumeMounts: empty(tokenSecretName) ? [] : [
            {
              volumeName: 'tokens'
              mountPath: '/etc/blobpi/secrets'
            }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: liveProbe
              initialDelaySeconds: 2
              periodSeconds: 3
              failureThreshold: 10
              timeoutSeconds: 2
            }
            {
              type: 'Readiness'
              httpGet: readyProbe
              periodSeconds: 10
              failureThreshold: 3
              timeoutSeconds: 5
            }
            {
              type: 'Liveness'
              httpGet: liveProbe
              periodSeconds: 30
              failureThreshold: 3
              timeoutSeconds: 5
            }
          ]
        }
      ]
      scale: {
        minReplicas: zoneRedundant ? 3 : 1
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequests)
              }
            }
          }
        ]
      }
    }
  }
}

@description('The URL pip, uv and Azure ML use as --index-url.')
output indexUrl string = 'https://${server.properties.configuration.ingress.fqdn}/simple/'

@description('The host name of the server (the Application Gateway\'s backend).')
output serverFqdn string = server.properties.configuration.ingress.fqdn

@description('The private address of the environment\'s internal load balancer.')
output staticIp string = managedEnv.properties.staticIp

@description('The name of the Container Apps environment.')
output environmentName string = managedEnv.name

@description('The name of the server container app.')
output serverName string = server.name
